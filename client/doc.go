// Package client lets a Go program in another process — one that needs
// no root and owns no network device — take part in a netspace stack's
// dataspace, over the actor link that `netspace run --listen-actors`
// offers (package relay is the stack's side).
//
// Dial connects with a token (and, on TCP links, the stack's
// certificate). The program then spawns actors with [Conn.Spawn]; their
// [Turn] has the API of a local actor's (Assert, Retract, Replace, Send,
// Observe, Unobserve, Spawn, Stop, OnStop, After, Captures), and they
// speak the same records: observing tcp-channel(?, tcp-listener(8000), ?)
// opens port 8000 on the stack. Each turn runs here, on the client's own
// actor runtime, and its actions travel to the stack as one batch that
// the actor's proxy there commits as one turn. Events come back per
// subscription, decoded into the typed records (a tcp-channel message is
// a *tcp.Channel), so an actor written for the stack runs here with its
// *actors.Turn replaced by a *client.Turn.
//
// [Conn.Net] offers the standard interfaces on top: Listen returns a
// net.Listener, Dial and DialContext a net.Conn (a tcp.NetConn), so
// net/http serves and fetches through the stack unchanged.
//
// Fate sharing crosses the link: when an actor stops or panics, its proxy
// stops and everything it asserted is retracted; when the program exits,
// crashes or loses its connection, the stack ends the session within its
// heartbeat period and retracts everything the program's actors
// asserted. The other way, if the stack goes silent or says goodbye,
// [Conn.Done] closes and every actor stops with [Actor.Err] saying why.
//
// Messages the program sends outside a turn (what a NetConn sends as it
// is read and written) travel through an "uplink": the conns send them
// through an actor of the client's runtime, whose inline observer
// forwards them at once, on the sender's goroutine.
//
// A client on a unix-socket link listens on a unix socket of its own in
// a private temporary directory, as protoactor's remote delivers in both
// directions by dialling; on a TCP link it listens on TCP with a fresh
// self-signed certificate whose pin it tells the stack over the
// authenticated link (see WithListen).
package client
