// Package dhcp is netspace's DHCP client (RFC 2131, options of RFC 2132):
// DISCOVER, OFFER, REQUEST and ACK; NAK; renewal at T1 (unicast to the
// server) and rebinding at T2 (broadcast); an ARP probe of the offered
// address and DECLINE when somebody answers it; RELEASE on a clean exit;
// retransmission with exponential backoff and jitter from an injected
// random source.
//
// It sits beside the resolver above UDP, and nothing else has to know it
// exists: its lease becomes the assertions the stack already observes —
// ip.HostRoute (address and prefix; the IP layer then asserts arp-local
// and ARP announces it), ip.GatewayRoute (the router, as default route)
// and dns.Server (each name server) — plus dhcp-lease and dhcp-state of
// its own (protocol.go). Losing the lease (NAK, expiry, release, or the
// actor stopping) retracts them.
//
// The wire format (wire.go, frame.go) is leaf code over []byte: Parse
// never panics and returns errors matching the sentinels; Append writes a
// message after a caller's buffer. The protocol core, [Client], is a pure
// state machine: messages, ARP conflicts and the time come in; messages
// to send, lease changes and the next deadline go out. The actor
// (actor.go) is a thin shell that turns those into records and timers.
//
// # Sending without an address
//
// The UDP and IP actors send only from addresses we hold, and a client in
// INIT holds none: a DHCPDISCOVER must leave from 0.0.0.0:68 to
// 255.255.255.255:67. So the client builds its datagrams itself — UDP in
// IPv4 behind room for an Ethernet header (BuildFrame) — and sends them as
// ethernet-packet(iface, #f, mac, dst, 0x0800, …) straight to the
// interface. It keeps doing so once bound, for one path only, and so that
// the RELEASE at exit leaves in the client's own last turn: unicasts go to
// the server's MAC, which the client keeps resolved with an arp-query
// while bound (the Ethernet broadcast until ARP has answered).
//
// Replies arrive the ordinary way, as udp-channel(udp-address(server,
// 67), udp-listener(68), body): the client observes port 68. Before it is
// bound the IP layer accepts only broadcasts, so the client sets the
// BROADCAST flag in DISCOVER and REQUEST (RFC 2131 §4.1); a server that
// unicasts to the offered address anyway is not heard (ip.not_for_us
// counts it).
package dhcp
