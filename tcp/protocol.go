package tcp

import (
	"net/netip"

	ds "netspace/dataspace"
)

// The TCP layer's records; trace layer "tcp".
//
// Users speak in user-level names: tcp-address(host, port) is the remote
// end; tcp-listener(port) is our end of a connection accepted on port,
// tcp-handle(id) our end of a connection we opened. Every control record
// names a connection by (remote, local).
var (
	LabelAddress    = ds.NewLabel("tcp-address", "tcp", "host", "port")
	LabelListener   = ds.NewLabel("tcp-listener", "tcp", "port")
	LabelHandle     = ds.NewLabel("tcp-handle", "tcp", "id")
	LabelChannel    = ds.NewLabel("tcp-channel", "tcp", "src", "dst", "bytes")
	LabelConnection = ds.NewLabel("tcp-connection", "tcp", "remote", "local", "state")
	LabelConsumed   = ds.NewLabel("tcp-consumed", "tcp", "remote", "local", "n")
	LabelWritable   = ds.NewLabel("tcp-writable", "tcp", "remote", "local", "n")
	LabelClose      = ds.NewLabel("tcp-close", "tcp", "remote", "local", "how")
	LabelSet        = ds.NewLabel("tcp-set", "tcp", "remote", "local", "option", "value")
	LabelListening  = ds.NewLabel("tcp-listening", "tcp", "port")
	LabelPacket     = ds.NewLabel("tcp-packet", "tcp", "from-wire", "src-ip", "src-port", "dst-ip", "dst-port",
		"seq", "ack", "flags", "window", "options", "data")
	LabelUnclaimed = ds.NewLabel("tcp-unclaimed", "tcp", "port", "packet")
	LabelAccepted  = ds.NewLabel("tcp-accepted", "tcp", "port", "remote")
	LabelPortInUse = ds.NewLabel("tcp-port-in-use", "tcp", "port")
)

// Connection states as the tcp-connection assertion names them.
const (
	StateConnecting  = "connecting"  // active open in progress
	StateEstablished = "established" // open in both directions
	StatePeerClosed  = "peer-closed" // the peer sent FIN: no more data will arrive
	StateReset       = "reset"       // the peer reset the connection
	StateRefused     = "refused"     // the active open was refused
	StateTimeout     = "timeout"     // retransmissions or keepalives gave up
	StateAborted     = "aborted"     // we reset it (user abort, or unread data at close)
)

// Ways to close, for tcp-close.
const (
	CloseWrite = "write" // half-close: FIN after the queued data
	CloseBoth  = "both"  // FIN, and reset if more data arrives
	CloseAbort = "abort" // RST now
)

// Options for tcp-set.
const (
	SetNoDelay      = "nodelay"    // 1: Nagle off
	SetKeepAlive    = "keepalive"  // 1: probes on
	SetKeepIdle     = "keepidle"   // milliseconds
	SetKeepInterval = "keepintvl"  // milliseconds
	SetKeepCount    = "keepcnt"    // probes
	SetDelayedAck   = "delayedack" // 0: acknowledge every segment
)

// Address is tcp-address(host, port): the remote end of a connection.
type Address struct {
	Host netip.Addr
	Port uint16
}

// Label implements dataspace.Record.
func (r *Address) Label() *ds.Label { return LabelAddress }

// Arity implements dataspace.Record.
func (r *Address) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *Address) Field(i int) ds.Value {
	if i == 0 {
		return ds.Addr(r.Host)
	}
	return ds.Int(int64(r.Port))
}

// AddrPort returns the address as a netip.AddrPort.
func (r *Address) AddrPort() netip.AddrPort { return netip.AddrPortFrom(r.Host, r.Port) }

// Listener is tcp-listener(port). Observing tcp-channel(?, tcp-listener(p),
// ?) makes the stack accept connections on port p.
type Listener struct{ Port uint16 }

// Label implements dataspace.Record.
func (r *Listener) Label() *ds.Label { return LabelListener }

// Arity implements dataspace.Record.
func (r *Listener) Arity() int { return 1 }

// Field implements dataspace.Record.
func (r *Listener) Field(int) ds.Value { return ds.Int(int64(r.Port)) }

// Handle is tcp-handle(id). Observing tcp-channel(tcp-address(h, p),
// tcp-handle(id), ?) opens a connection to h:p, our end named id.
type Handle struct{ ID ds.Value }

// Label implements dataspace.Record.
func (r *Handle) Label() *ds.Label { return LabelHandle }

// Arity implements dataspace.Record.
func (r *Handle) Arity() int { return 1 }

// Field implements dataspace.Record.
func (r *Handle) Field(int) ds.Value { return r.ID }

// Channel is the message tcp-channel(src, dst, bytes): data from the
// connection to its user (src the remote tcp-address, dst the local name)
// or from the user to the connection (src the local name, dst the remote).
type Channel struct {
	Src, Dst ds.Record
	Data     []byte
}

// Label implements dataspace.Record.
func (r *Channel) Label() *ds.Label { return LabelChannel }

// Arity implements dataspace.Record.
func (r *Channel) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *Channel) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Rec(r.Src)
	case 1:
		return ds.Rec(r.Dst)
	default:
		return ds.Bytes(r.Data)
	}
}

// Connection is the assertion tcp-connection(remote, local, state): the
// connection has reached state (StateConnecting, StateEstablished,
// StatePeerClosed, "closed", or a failure). States accumulate — each is
// asserted once, in order — and are all retracted when the connection's
// actor ends: after the connection closed and its user let go, or when
// the actor crashed (the peer is reset). So Added says what happened, and
// Removed always means the connection is gone.
type Connection struct {
	Remote, Local ds.Record
	State         string
}

// Label implements dataspace.Record.
func (r *Connection) Label() *ds.Label { return LabelConnection }

// Arity implements dataspace.Record.
func (r *Connection) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *Connection) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Rec(r.Remote)
	case 1:
		return ds.Rec(r.Local)
	default:
		return ds.String(r.State)
	}
}

// Consumed is the message tcp-consumed(remote, local, n): the user has
// finished with n more bytes it received, so the connection may open its
// receive window by as much. This is the receive side's backpressure: a
// user that does not consume stops the peer.
type Consumed struct {
	Remote, Local ds.Record
	N             int
}

// Label implements dataspace.Record.
func (r *Consumed) Label() *ds.Label { return LabelConsumed }

// Arity implements dataspace.Record.
func (r *Consumed) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *Consumed) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Rec(r.Remote)
	case 1:
		return ds.Rec(r.Local)
	default:
		return ds.Int(int64(r.N))
	}
}

// Writable is the message tcp-writable(remote, local, n): the user may
// send n more bytes. A connection grants its send buffer's space as it
// frees; a user that writes beyond its grants has the connection aborted
// once the send buffer overflows.
type Writable struct {
	Remote, Local ds.Record
	N             int
}

// Label implements dataspace.Record.
func (r *Writable) Label() *ds.Label { return LabelWritable }

// Arity implements dataspace.Record.
func (r *Writable) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *Writable) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Rec(r.Remote)
	case 1:
		return ds.Rec(r.Local)
	default:
		return ds.Int(int64(r.N))
	}
}

// Close is the message tcp-close(remote, local, how): CloseWrite,
// CloseBoth or CloseAbort. A user observing the connection specifically
// (tcp-channel(remote, local, ?)) also closes it (CloseBoth) by ending
// that observation.
type Close struct {
	Remote, Local ds.Record
	How           string
}

// Label implements dataspace.Record.
func (r *Close) Label() *ds.Label { return LabelClose }

// Arity implements dataspace.Record.
func (r *Close) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *Close) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Rec(r.Remote)
	case 1:
		return ds.Rec(r.Local)
	default:
		return ds.String(r.How)
	}
}

// Set is the message tcp-set(remote, local, option, value): change a
// connection option (SetNoDelay, SetKeepAlive, …).
type Set struct {
	Remote, Local ds.Record
	Option        string
	Value         int64
}

// Label implements dataspace.Record.
func (r *Set) Label() *ds.Label { return LabelSet }

// Arity implements dataspace.Record.
func (r *Set) Arity() int { return 4 }

// Field implements dataspace.Record.
func (r *Set) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Rec(r.Remote)
	case 1:
		return ds.Rec(r.Local)
	case 2:
		return ds.String(r.Option)
	default:
		return ds.Int(r.Value)
	}
}

// Listening is the assertion tcp-listening(port): a listener actor
// accepts connections on port (the supply of the listener demand
// matcher).
type Listening struct{ Port uint16 }

// Label implements dataspace.Record.
func (r *Listening) Label() *ds.Label { return LabelListening }

// Arity implements dataspace.Record.
func (r *Listening) Arity() int { return 1 }

// Field implements dataspace.Record.
func (r *Listening) Field(int) ds.Value { return ds.Int(int64(r.Port)) }

// Packet is the message tcp-packet(from-wire, src-ip, src-port, dst-ip,
// dst-port, seq, ack, flags, window, options, data): a received segment,
// decoded once by the codec, on its way to the connection that observes
// its 4-tuple.
type Packet struct {
	FromWire bool
	Src, Dst netip.AddrPort
	Seg      Segment
	RawOpts  []byte
}

// Label implements dataspace.Record.
func (r *Packet) Label() *ds.Label { return LabelPacket }

// Arity implements dataspace.Record.
func (r *Packet) Arity() int { return 11 }

// Field implements dataspace.Record.
func (r *Packet) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.Bool(r.FromWire)
	case 1:
		return ds.Addr(r.Src.Addr())
	case 2:
		return ds.Int(int64(r.Src.Port()))
	case 3:
		return ds.Addr(r.Dst.Addr())
	case 4:
		return ds.Int(int64(r.Dst.Port()))
	case 5:
		return ds.Int(int64(r.Seg.Seq))
	case 6:
		return ds.Int(int64(r.Seg.Ack))
	case 7:
		return ds.Int(int64(r.Seg.Flags))
	case 8:
		return ds.Int(int64(r.Seg.Window))
	case 9:
		return ds.Bytes(r.RawOpts)
	default:
		return ds.Bytes(r.Seg.Payload)
	}
}

// PacketPattern matches received segments of one connection: from remote
// to local.
func PacketPattern(remote, local netip.AddrPort) *ds.Pattern {
	return ds.RecordPattern(LabelPacket, ds.Lit(ds.Bool(true)),
		ds.Lit(ds.Addr(remote.Addr())), ds.Lit(ds.Int(int64(remote.Port()))),
		ds.Lit(ds.Addr(local.Addr())), ds.Lit(ds.Int(int64(local.Port()))),
		nil, nil, nil, nil, nil, nil)
}

// Unclaimed is the message tcp-unclaimed(port, packet): a segment to port
// that no connection claimed, for that port's listener.
type Unclaimed struct {
	Port   uint16
	Packet *Packet
}

// Label implements dataspace.Record.
func (r *Unclaimed) Label() *ds.Label { return LabelUnclaimed }

// Arity implements dataspace.Record.
func (r *Unclaimed) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *Unclaimed) Field(i int) ds.Value {
	if i == 0 {
		return ds.Int(int64(r.Port))
	}
	return ds.Rec(r.Packet)
}

// Accepted is the message tcp-accepted(port, remote): a connection of
// the listener on port completed its handshake (it no longer counts
// against the SYN backlog).
type Accepted struct {
	Port   uint16
	Remote netip.AddrPort
}

// Label implements dataspace.Record.
func (r *Accepted) Label() *ds.Label { return LabelAccepted }

// Arity implements dataspace.Record.
func (r *Accepted) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *Accepted) Field(i int) ds.Value {
	if i == 0 {
		return ds.Int(int64(r.Port))
	}
	return ds.String(r.Remote.String())
}

// ChannelFrom matches data a connection delivers to the user at local
// (tcp-listener or tcp-handle), from any remote: tcp-channel(?remote,
// local, ?bytes).
func ChannelFrom(local *ds.Pattern) *ds.Pattern {
	return ds.RecordPattern(LabelChannel, ds.CaptureAny, local, ds.CaptureAny)
}

// ListenerPattern is the pattern tcp-listener(port).
func ListenerPattern(port uint16) *ds.Pattern {
	return ds.RecordPattern(LabelListener, ds.Lit(ds.Int(int64(port))))
}

// HandlePattern is the pattern tcp-handle(id).
func HandlePattern(id ds.Value) *ds.Pattern {
	return ds.RecordPattern(LabelHandle, ds.Lit(id))
}

// AddressPattern is the pattern tcp-address(host, port).
func AddressPattern(ap netip.AddrPort) *ds.Pattern {
	return ds.RecordPattern(LabelAddress, ds.Lit(ds.Addr(ap.Addr())), ds.Lit(ds.Int(int64(ap.Port()))))
}

// Lit returns the pattern matching exactly the record r.
func Lit(r ds.Record) *ds.Pattern { return ds.Lit(ds.Rec(r)) }

// PortInUse is the assertion tcp-port-in-use(port): an active connection
// holds local port port (until its actor ends, TIME-WAIT included).
type PortInUse struct{ Port uint16 }

// Label implements dataspace.Record.
func (r *PortInUse) Label() *ds.Label { return LabelPortInUse }

// Arity implements dataspace.Record.
func (r *PortInUse) Arity() int { return 1 }

// Field implements dataspace.Record.
func (r *PortInUse) Field(int) ds.Value { return ds.Int(int64(r.Port)) }
