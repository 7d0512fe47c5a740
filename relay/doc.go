// Package relay is the stack's side of the actor link: it lets actors in
// other processes join the stack's dataspace over protoactor-go's remote
// (gRPC on a unix socket, or on TCP with TLS), as Syndicate's relays let
// remote actors assert and observe as if they were local. Package client
// is the other side; package relay/wire holds what both share.
//
// # Sessions and proxies
//
// A client connects with a token (checked before gRPC speaks; see
// wire.Creds) and says Hello to the gate. The gate opens a session: a
// protoactor actor that receives the client's frames in order. Each of
// the client's actors gets a proxy actor in the stack's System on its
// first turn; every later turn of that actor arrives as one batch that
// the proxy commits as one turn, so a remote turn is as atomic as a local
// one. The proxy's observations forward their events (added, removed,
// message) to the client, tagged with the subscription they belong to.
// Messages a client sends are decoded into the typed records the stack's
// actors type-assert (wire.Registry); only the user-level messages of
// tcp and udp may be sent at all — never a raw frame or packet.
//
// # Fate sharing
//
// A session ends when the client says bye, when it has been silent for
// the heartbeat period (it beats four times per period), when protoactor
// reports its connection lost, or when the stack closes. Then every proxy
// stops and fate sharing retracts all they asserted: the client's
// listeners close, its connections are reset, its interest goes. A
// client actor that stops, crashes or has a turn refused loses its proxy
// the same way.
//
// # Access control
//
// Each credential has an allow-list (Policy): the patterns it may
// observe and the records it may assert and send, down to ranges of
// ports, and handle ids in the session's own namespace. A turn with
// anything outside the list is refused whole — nothing of it reaches the
// dataspace — logged and counted, and the actor's proxy stops. A wrong
// token is refused at the connection. Every link message must be a frame
// addressed to the gate or to a session of the same credential; anything
// else closes the connection.
//
// # Bounds
//
// Everything a client can make the stack hold is bounded: sessions,
// actors per session, assertions and observations per actor, turns
// waiting to run (a client past the bound is disconnected), each proxy's
// mailbox (messages past it are dropped and counted), and the event bytes
// in flight to a client (its window; messages past it are dropped and
// counted, and a TCP connection that would lose data is aborted). A slow
// remote reader does not fill any of these: it reports tcp-consumed as it
// reads, over the link, so its connections' receive windows close and
// the peer waits.
package relay
