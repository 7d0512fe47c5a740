package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// frameType is the protobuf type of every message on a link.
var frameType = string(proto.MessageName(&wrapperspb.BytesValue{}))

// Wrap returns frame as the protobuf message a link carries.
func Wrap(frame []byte) proto.Message { return &wrapperspb.BytesValue{Value: frame} }

// Unwrap returns the frame a link message carries, or nil.
func Unwrap(msg any) []byte {
	if b, ok := msg.(*wrapperspb.BytesValue); ok {
		return b.Value
	}
	return nil
}

// Limits of the gRPC transport: protoactor packs up to writerBatch
// messages in one gRPC message.
const (
	writerBatch  = 64
	maxGRPCMsg   = writerBatch*MaxFrame + 1<<20
	maxEnvelopes = 4 * writerBatch
)

// NodeConfig configures a Node: one end of a link.
type NodeConfig struct {
	// Listen is where the gRPC server listens (HOST:PORT; port 0 picks
	// one).
	Listen string
	// Advertise is the address peers dial to reach this node (a PID
	// address: "unix:/path" or "HOST:PORT"); empty means the server's
	// own address.
	Advertise string
	// FrontDoor, if set, is a unix socket path that forwards to the gRPC
	// server, and Advertise should name it.
	FrontDoor string
	// Creds authenticate connections both ways.
	Creds *Creds
	// Accept checks every message's target: the credential the sending
	// connection authenticated as, and the target PID's id. An error
	// refuses the message and closes that connection.
	Accept func(id, target string) error
	// Refused is told of every refused message or stream.
	Refused func(reason string)
	// Log receives protoactor's warnings and errors.
	Log *zap.Logger
	// Retries is how many times protoactor dials a peer before giving it
	// up (default 2).
	Retries int
}

// Node is a protoactor-go actor system with remote enabled and guarded:
// every inbound connection must authenticate (see [Creds]), and every
// inbound message must be a frame addressed to a PID its connection may
// reach.
type Node struct {
	Sys    *actor.ActorSystem
	Remote *remote.Remote
	Addr   string // the advertised address: PIDs of this node carry it
	front  io.Closer

	stopOnce sync.Once
}

// StartNode starts a node.
func StartNode(cfg NodeConfig) (n *Node, err error) {
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	named := log.Named("protoactor")
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(&zapSlog{log: named})
	}))
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("wire: listen address %q: %w", cfg.Listen, err)
	}
	var p int
	if _, err := fmt.Sscanf(port, "%d", &p); err != nil {
		return nil, fmt.Errorf("wire: listen port %q", port)
	}
	refused := cfg.Refused
	if refused == nil {
		refused = func(string) {}
	}
	retries := cfg.Retries
	if retries <= 0 {
		retries = 2
	}
	if cfg.FrontDoor != "" && p == 0 {
		// The front door needs the server's port before it starts, and
		// the advertised address must be configured before too (PIDs of
		// protoactor's own actors carry it): pick a free port.
		if p, err = freePort(host); err != nil {
			return nil, err
		}
	}
	n = &Node{Sys: sys}
	g := &guard{accept: cfg.Accept, refused: refused, node: n}
	rc := remote.Configure(host, p,
		remote.WithServerOptions(grpc.Creds(cfg.Creds), grpc.MaxRecvMsgSize(maxGRPCMsg),
			grpc.StreamInterceptor(g.stream), grpc.UnaryInterceptor(g.unary)),
		remote.WithDialOptions(grpc.WithTransportCredentials(cfg.Creds), grpc.WithContextDialer(Dialer)),
		remote.WithCallOptions(grpc.MaxCallSendMsgSize(maxGRPCMsg)),
		remote.WithEndpointWriterBatchSize(writerBatch),
		remote.WithEndpointWriterQueueSize(1<<16),
		remote.WithAdvertisedHost(cfg.Advertise),
	)
	rc.MaxRetryCount = retries
	n.Remote = remote.NewRemote(sys, rc)
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("wire: starting the remote server: %v", r)
			}
		}()
		n.Remote.Start()
	}()
	if err != nil {
		return nil, err
	}
	n.Addr = sys.ProcessRegistry.Address
	if cfg.FrontDoor != "" {
		n.front, err = ServeUnix(cfg.FrontDoor, net.JoinHostPort(host, strconv.Itoa(p)), log)
		if err != nil {
			n.Remote.Shutdown(false)
			return nil, err
		}
	}
	return n, nil
}

// freePort returns a TCP port free on host right now.
func freePort(host string) (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("wire: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// String returns the node's advertised address.
func (n *Node) String() string { return n.Addr }

// Stop shuts the node down: its server and its connections.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		if n.front != nil {
			n.front.Close()
		}
		n.Remote.Shutdown(false)
		n.Sys.Shutdown()
	})
}

// guard is the gRPC interceptor of a node: only the Receive stream of
// protoactor's Remoting service, only from authenticated connections,
// and only well-formed batches of frames to permitted targets. It also
// contains panics of protoactor's reader.
type guard struct {
	accept  func(id, target string) error
	refused func(string)
	node    *Node
}

const receiveMethod = "/remote.Remoting/Receive"

func (g *guard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	g.refused("unary call " + info.FullMethod)
	return nil, status.Error(codes.PermissionDenied, "not served")
}

func (g *guard) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	if info.FullMethod != receiveMethod {
		g.refused("stream " + info.FullMethod)
		return status.Error(codes.PermissionDenied, "not served")
	}
	p, ok := peer.FromContext(ss.Context())
	var id *Identity
	if ok {
		id, _ = p.AuthInfo.(*Identity)
	}
	if id == nil {
		g.refused("unauthenticated stream")
		return status.Error(codes.Unauthenticated, "no credential")
	}
	defer func() {
		if r := recover(); r != nil {
			g.refused(fmt.Sprintf("panic reading a stream: %v", r))
			err = status.Error(codes.Internal, "refused")
		}
	}()
	return h(srv, &checkedStream{ServerStream: ss, g: g, id: id.ID})
}

type checkedStream struct {
	grpc.ServerStream
	g  *guard
	id string
}

func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := s.check(m); err != nil {
		s.g.refused(err.Error())
		return status.Error(codes.PermissionDenied, err.Error())
	}
	return nil
}

func (s *checkedStream) check(m any) error {
	rm, ok := m.(*remote.RemoteMessage)
	if !ok {
		return fmt.Errorf("unexpected %T", m)
	}
	switch t := rm.MessageType.(type) {
	case *remote.RemoteMessage_ConnectRequest:
		return nil
	case *remote.RemoteMessage_MessageBatch:
		return s.checkBatch(t.MessageBatch)
	}
	return fmt.Errorf("unexpected remote message %T", rm.MessageType)
}

func (s *checkedStream) checkBatch(b *remote.MessageBatch) error {
	if b == nil || len(b.Envelopes) > maxEnvelopes {
		return errors.New("bad batch")
	}
	for _, tn := range b.TypeNames {
		if tn != frameType {
			return fmt.Errorf("message type %q refused", tn)
		}
	}
	for _, t := range b.Targets {
		if t == nil {
			return errors.New("nil target")
		}
	}
	for _, e := range b.Envelopes {
		switch {
		case e == nil:
			return errors.New("nil envelope")
		case e.TypeId < 0 || int(e.TypeId) >= len(b.TypeNames):
			return errors.New("bad type id")
		case e.SerializerId != 0:
			return errors.New("bad serializer")
		case e.Target < 0 || int(e.Target) >= len(b.Targets):
			return errors.New("bad target")
		case e.Sender < 0 || int(e.Sender) > len(b.Senders):
			return errors.New("bad sender")
		case len(e.MessageData) > MaxFrame:
			return errors.New("frame too large")
		}
		t := b.Targets[e.Target]
		if s.g.accept != nil {
			if err := s.g.accept(s.id, t.Id); err != nil {
				return err
			}
		}
	}
	// Whatever address the peer dialled us by (a TCP node listening on
	// 0.0.0.0 has many), its messages are for this node: never relayed.
	for _, t := range b.Targets {
		t.Address = s.g.node.Addr
	}
	for _, p := range b.Senders {
		if p == nil {
			return errors.New("nil sender")
		}
	}
	return nil
}

// ServeUnix listens on the unix socket path and forwards every connection
// to the TCP address backend (a node's gRPC server, which authenticates
// it). The socket is created with mode 0660 and removed on Close.
func ServeUnix(path, backend string, log *zap.Logger) (io.Closer, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		// A stale socket of an earlier run: refuse if something answers.
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("wire: %s is in use", path)
		}
		os.Remove(path)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	os.Chmod(path, 0o660)
	f := &frontDoor{ln: ln, backend: backend, log: log, conns: map[net.Conn]struct{}{}}
	go f.serve()
	return f, nil
}

// maxFrontConns bounds the connections a front door forwards at once.
const maxFrontConns = 256

type frontDoor struct {
	ln      net.Listener
	backend string
	log     *zap.Logger
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  atomic.Bool
	// Refusals counts connections turned away at the bound.
	refusals atomic.Uint64
}

func (f *frontDoor) serve() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		full := len(f.conns) >= maxFrontConns
		if !full {
			f.conns[c] = struct{}{}
		}
		f.mu.Unlock()
		if full {
			f.refusals.Add(1)
			f.log.Warn("actor link: too many connections, refused")
			c.Close()
			continue
		}
		go f.forward(c)
	}
}

func (f *frontDoor) forward(c net.Conn) {
	defer func() {
		f.mu.Lock()
		delete(f.conns, c)
		f.mu.Unlock()
		c.Close()
	}()
	b, err := net.DialTimeout("tcp", f.backend, 5*time.Second)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.conns[b] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, b)
		f.mu.Unlock()
		b.Close()
	}()
	done := make(chan struct{}, 2)
	go func() { io.Copy(b, c); b.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(c, b); c.(*net.UnixConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}

func (f *frontDoor) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	err := f.ln.Close()
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	return err
}

// zapSlog hands protoactor's slog records to zap at debug level:
// protoactor logs routine connection events (a peer going away) as
// errors, and the link's own code logs what matters.
type zapSlog struct {
	log   *zap.Logger
	attrs []zap.Field
}

func (h *zapSlog) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && h.log.Core().Enabled(zapcore.DebugLevel)
}

func (h *zapSlog) Handle(_ context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return nil
	}
	if ce := h.log.Check(zapcore.DebugLevel, r.Message); ce != nil {
		fs := append([]zap.Field(nil), h.attrs...)
		r.Attrs(func(a slog.Attr) bool {
			fs = append(fs, zap.Any(a.Key, a.Value.Any()))
			return true
		})
		ce.Write(fs...)
	}
	return nil
}

func (h *zapSlog) WithAttrs(as []slog.Attr) slog.Handler {
	n := &zapSlog{log: h.log, attrs: append([]zap.Field(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, zap.Any(a.Key, a.Value.Any()))
	}
	return n
}

func (h *zapSlog) WithGroup(name string) slog.Handler {
	return &zapSlog{log: h.log.Named(name), attrs: h.attrs}
}
