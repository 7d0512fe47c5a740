// Package dns is netspace's DNS (RFC 1035): a resolver for user actors
// and Go programs, and a small authoritative responder, both above UDP
// and TCP.
//
// A lookup is interest: an actor observing dns-answer(name, type, ?)
// (name and type literal) makes the resolver find the answers and assert
// them, one dns-answer per address, or one whose value is dns-error(code)
// for a negative answer (NXDOMAIN, no data, every server failing). The
// resolver learns its servers from dns-server(addr) assertions — the DHCP
// client asserts those of its lease.
package dns
