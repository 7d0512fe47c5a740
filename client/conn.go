package client

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"netspace/actors"
	"netspace/relay/wire"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"go.uber.org/zap"
)

// gateName is the id of the stack's gate PID (relay.GateName).
const gateName = "netspace"

// inboxName is the id of the client's inbox PID, where the stack sends.
const inboxName = "inbox"

// Credentials prove who the client is.
type Credentials struct {
	// Token is the credential's token, as the stack's credentials list it.
	Token string
	// CAFile (TCP links) is a PEM file with the stack's certificate or the
	// CA that signed it.
	CAFile string
	// ServerName (TCP links) is the name the stack's certificate must
	// carry (default: the host dialled).
	ServerName string
}

// TokenFile reads a token from a file (surrounding blanks trimmed).
func TokenFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("client: %s holds no token", path)
	}
	return tok, nil
}

// Option configures Dial.
type Option func(*options)

type options struct {
	name   string
	log    *zap.Logger
	listen string
}

// WithName names the program in the stack's logs.
func WithName(name string) Option { return func(o *options) { o.name = name } }

// WithLogger sets the logger of the client's runtime.
func WithLogger(l *zap.Logger) Option { return func(o *options) { o.log = l } }

// WithListen sets where a client on a TCP link listens for the stack
// (HOST:PORT, port 0 for any; default: the local address of the route to
// the stack, any port). protoactor's remote delivers in both directions
// by dialling, so the stack must be able to reach it there.
func WithListen(hostPort string) Option { return func(o *options) { o.listen = hostPort } }

// ErrClosed is the error of a link closed by Close.
var ErrClosed = errors.New("client: link closed")

// Conn is a link to a stack: the program's actors, spawned with
// [Conn.Spawn], assert, observe and send in the stack's dataspace through
// it.
type Conn struct {
	node    *wire.Node
	sys     *actors.System // runs the client actors' turns
	stack   wire.Addr
	session *actor.PID
	prefix  string
	secret  string
	log     *zap.Logger
	tmpDir  string
	welcome chan any

	interval, timeout time.Duration
	window            atomic.Int64 // the stack's send window (set once, read by the inbox)

	received atomic.Uint64 // event bytes received
	acked    atomic.Uint64 // the last count acknowledged
	lastSeen atomic.Int64
	nextID   atomic.Uint64
	handles  atomic.Uint64

	mu     sync.Mutex
	actors map[uint64]*Actor

	uplink  atomic.Pointer[uplink]
	netOnce sync.Once
	net     *Net

	done     chan struct{}
	failOnce sync.Once
	err      error
	beat     *time.Ticker
}

// Dial connects to the stack at addr ("unix:/path" or "tcp:HOST:PORT")
// with the given credentials.
func Dial(ctx context.Context, addr string, creds Credentials, opts ...Option) (*Conn, error) {
	o := options{name: filepath.Base(os.Args[0]), log: zap.NewNop()}
	for _, f := range opts {
		f(&o)
	}
	a, err := wire.ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	var stackTLS *tls.Config
	if a.Net == "tcp" {
		if creds.CAFile == "" {
			return nil, errors.New("client: a tcp: link needs the stack's certificate (Credentials.CAFile)")
		}
		if stackTLS, err = wire.ClientTLS(creds.CAFile, creds.ServerName); err != nil {
			return nil, err
		}
		if stackTLS.ServerName == "" {
			stackTLS.ServerName, _, _ = net.SplitHostPort(a.Path)
		}
	}
	// Check the token first, to tell a refusal from an outage at once.
	local, err := preflight(ctx, a, creds.Token, stackTLS)
	if err != nil {
		return nil, err
	}
	c := &Conn{stack: a, log: o.log.Named("netspace-client"), actors: map[uint64]*Actor{},
		welcome: make(chan any, 1), done: make(chan struct{})}
	c.secret = randomHex(24)
	creds2 := &wire.Creds{
		Check: func(tok string) (string, bool) {
			return "stack", subtle.ConstantTimeCompare([]byte(tok), []byte(c.secret)) == 1
		},
		Dial: func(target string) (string, *tls.Config, error) {
			if target != a.Target() {
				return "", nil, fmt.Errorf("client: dials only the stack, not %s", target)
			}
			return creds.Token, stackTLS, nil
		},
	}
	nc := wire.NodeConfig{Creds: creds2, Log: o.log,
		Accept: func(_, target string) error {
			if target != inboxName {
				return fmt.Errorf("no %q here", target)
			}
			return nil
		},
	}
	var pin []byte
	if a.Net == "unix" {
		c.tmpDir, err = os.MkdirTemp("", "netspace-client-")
		if err != nil {
			return nil, err
		}
		sock := filepath.Join(c.tmpDir, "s")
		nc.Listen, nc.FrontDoor, nc.Advertise = "127.0.0.1:0", sock, "unix:"+sock
	} else {
		nc.Listen = o.listen
		if nc.Listen == "" {
			nc.Listen = net.JoinHostPort(local, "0")
		}
		if creds2.ServerTLS, pin, err = wire.EphemeralTLS(); err != nil {
			return nil, err
		}
	}
	c.node, err = wire.StartNode(nc)
	if err != nil {
		c.cleanup()
		return nil, err
	}
	c.sys = actors.NewSystem(actors.WithLogger(o.log))
	if _, err := c.node.Sys.Root.SpawnNamed(actor.PropsFromFunc(c.receive), inboxName); err != nil {
		c.cleanup()
		return nil, err
	}
	c.node.Sys.EventStream.Subscribe(func(ev any) {
		if e, ok := ev.(*remote.EndpointTerminatedEvent); ok && e.Address == a.Target() {
			c.fail(errors.New("client: connection to the stack lost"))
		}
	})
	hello := &wire.Hello{Token: creds.Token, Reply: c.node.Addr, ReplyID: inboxName, Secret: c.secret, Pin: pin, Name: o.name}
	b, err := wire.Encode(hello)
	if err != nil {
		c.cleanup()
		return nil, err
	}
	c.node.Sys.Root.Send(actor.NewPID(a.Target(), gateName), wire.Wrap(b))
	select {
	case f := <-c.welcome:
		switch f := f.(type) {
		case *wire.Welcome:
			c.session = actor.NewPID(a.Target(), f.Session)
			c.prefix, c.interval, c.timeout = f.Prefix, f.Interval, f.Timeout
			c.window.Store(int64(f.Window))
		case *wire.Refused:
			c.cleanup()
			return nil, fmt.Errorf("client: the stack refused: %s", f.Reason)
		}
	case <-ctx.Done():
		c.cleanup()
		return nil, fmt.Errorf("client: no welcome from the stack: %w", ctx.Err())
	}
	if c.interval <= 0 {
		c.interval = time.Second
	}
	c.lastSeen.Store(time.Now().UnixNano())
	c.uplink.Store(startUplink(c))
	c.beat = time.NewTicker(c.interval)
	go c.heartbeat()
	return c, nil
}

// preflight dials the stack and runs the token handshake alone, so a
// wrong token is an error at once. It returns the local address of the
// route to the stack.
func preflight(ctx context.Context, a wire.Addr, token string, cfg *tls.Config) (string, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, a.Net, a.Path)
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	defer nc.Close()
	local := "127.0.0.1"
	if ta, ok := nc.LocalAddr().(*net.TCPAddr); ok {
		local = ta.IP.String()
	}
	if _, err := wire.ClientHandshake(ctx, nc, token, cfg); err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	return local, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Prefix is the session's namespace for handle ids: ids that start with
// it are this client's alone (allow-lists call them "own").
func (c *Conn) Prefix() string { return c.prefix }

// HandleID returns a handle id in the session's namespace.
func (c *Conn) HandleID(name string) string { return c.prefix + name }

// Done is closed when the link is lost or closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the link ended (nil while it is up).
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close says goodbye to the stack — which retracts everything this
// client's actors asserted — stops the actors and closes the link.
func (c *Conn) Close() error {
	if c.session != nil && c.Err() == nil {
		if b, err := wire.Encode(&wire.Bye{Reason: "closed"}); err == nil {
			c.node.Sys.Root.Send(c.session, wire.Wrap(b))
		}
	}
	c.fail(ErrClosed)
	return nil
}

// fail ends the link once: every actor stops, with err.
func (c *Conn) fail(err error) {
	c.failOnce.Do(func() {
		c.err = err
		close(c.done)
		if c.beat != nil {
			c.beat.Stop()
		}
		c.mu.Lock()
		all := make([]*Actor, 0, len(c.actors))
		for _, a := range c.actors {
			all = append(all, a)
		}
		c.mu.Unlock()
		for _, a := range all {
			a.end(err)
		}
		if c.sys != nil {
			c.sys.Close(5 * time.Second)
		}
		// Let the goodbye leave before the transport goes.
		time.AfterFunc(200*time.Millisecond, c.cleanup)
	})
}

func (c *Conn) cleanup() {
	if c.node != nil {
		c.node.Stop()
	}
	if c.tmpDir != "" {
		os.RemoveAll(c.tmpDir)
	}
}

// heartbeat beats, acknowledging the events received, and gives the stack
// up after its timeout of silence.
func (c *Conn) heartbeat() {
	for {
		select {
		case <-c.done:
			return
		case <-c.beat.C:
		}
		if time.Since(time.Unix(0, c.lastSeen.Load())) > c.timeout {
			c.fail(errors.New("client: the stack fell silent"))
			return
		}
		c.ack()
	}
}

// ack tells the stack how many event bytes have arrived.
func (c *Conn) ack() {
	n := c.received.Load()
	c.acked.Store(n)
	c.sendFrame(&wire.Heartbeat{Acked: n})
}

func (c *Conn) sendFrame(f any) {
	b, err := wire.Encode(f)
	if err != nil {
		c.log.Warn("frame not encodable", zap.Error(err))
		return
	}
	c.node.Sys.Root.Send(c.session, wire.Wrap(b))
}

// receive handles the stack's frames, in order, on the inbox's goroutine.
func (c *Conn) receive(ctx actor.Context) {
	frame := wire.Unwrap(ctx.Message())
	if frame == nil {
		return
	}
	c.lastSeen.Store(time.Now().UnixNano())
	f, err := wire.Decode(frame, wire.DefaultRegistry)
	if err != nil {
		c.log.Warn("bad frame from the stack", zap.Error(err))
		return
	}
	switch f := f.(type) {
	case *wire.Welcome, *wire.Refused:
		select {
		case c.welcome <- f:
		default:
		}
	case *wire.Event:
		if n, w := c.received.Add(uint64(len(frame))), c.window.Load(); w > 0 && n-c.acked.Load() > uint64(w/4) {
			c.ack()
		}
		if a := c.actor(f.Actor); a != nil {
			a.event(f)
		}
	case *wire.ActorEnd:
		if u := c.uplink.Load(); u != nil && f.Actor == u.id.Load() {
			c.log.Warn("the stack refused a message sent outside a turn", zap.String("reason", f.Reason))
			u.announce()
		} else if a := c.actor(f.Actor); a != nil {
			a.end(fmt.Errorf("client: the stack ended actor %s: %s", a.name, f.Reason))
		}
	case *wire.Heartbeat:
	case *wire.Bye:
		c.fail(fmt.Errorf("client: the stack ended the session: %s", f.Reason))
	}
}

func (c *Conn) actor(id uint64) *Actor {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.actors[id]
}
