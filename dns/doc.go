// Package dns is netspace's DNS (RFC 1035): a resolver for user actors
// and Go programs, and a small authoritative responder, both above UDP
// and TCP, beside the DHCP client in the layering.
//
// # Records
//
// A lookup is interest: an actor observing dns-answer(name, type, ?) —
// name and type literal — makes the resolver find the answers and assert
// them: one dns-answer per address (A) or name (PTR, CNAME), or one whose
// value is dns-error(code) for a negative answer (ErrNXDomain, ErrNoData,
// ErrTimeout, …). They stay asserted while the interest does, and are
// refreshed as their TTLs run out; when the interest goes they are
// retracted. The resolver asks the servers asserted as dns-server(addr)
// (the DHCP client asserts those of its lease). The responder answers for
// the names asserted as dns-name(name, addr). See protocol.go.
//
// # Layout
//
// The wire format (wire.go) is leaf code over []byte: Parse never panics
// and never loops (names are bounded in length and compression pointers,
// sections in records) and returns errors matching the sentinels; Append
// writes a message after a caller's buffer, names uncompressed. Names are
// canonical — ASCII lower case, no trailing dot — everywhere inside.
//
// The resolver's core, [Resolver], is pure: questions, responses and the
// time in; queries to send and results out. It keeps a TTL-respecting
// cache bounded in entries (least recently used first out) and a bounded
// number of lookups in flight; it tries each server Attempts times in
// turn with a timeout, moves on after SERVFAIL or REFUSED, follows CNAME
// chains (within an answer, and by asking again from a chain's end) up to
// MaxCNAME names, caches negative answers for the SOA's minimum (RFC
// 2308), and asks the same server again over TCP when an answer comes
// back truncated (RFC 7766). Answers are accepted only from the server
// asked, with the query's ID and question. The actor (resolveactor.go)
// is a thin shell: it sends UDP queries from one ephemeral port (a
// udp-handle) and runs each TCP query in a child actor that opens the
// connection through the tcp records, writes the length-prefixed query,
// reads one answer and stops.
//
// The responder's core, [Zone.Respond], answers one query as an
// authoritative server: A and PTR from the zone, NOERROR without answers
// for other types of a known name, NXDOMAIN for unknown names, FORMERR,
// NOTIMP or REFUSED where due, and nothing to responses and junk.
// Replies over UDP longer than 512 bytes are truncated (TC), so clients
// ask again over TCP, which the responder serves on the same port with a
// bound on connections.
//
// [GoResolver] serves Go programs: LookupAddr observes dns-answer until
// the first answer, and DialContext takes host names, so it fits
// http.Transport.DialContext.
package dns
