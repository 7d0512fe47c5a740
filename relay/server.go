package relay

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
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

// GateName is the id of the stack's gate PID: a client's Hello goes
// there.
const GateName = "netspace"

// Config configures a Server.
type Config struct {
	// Listen is "unix:/path" or "tcp:HOST:PORT".
	Listen string
	// Credentials are the tokens let in, each with its allow-list.
	Credentials []Credential
	// CertFile and KeyFile (PEM) are the TLS certificate of a TCP link;
	// required for tcp: addresses.
	CertFile, KeyFile string
	// Heartbeat is how long a silent client is kept: past it, the session
	// ends and everything its actors asserted is retracted (default 3 s).
	// Clients beat four times per period.
	Heartbeat time.Duration
	// Window bounds the event bytes sent to a client and not yet
	// acknowledged (default 16 MiB); messages beyond it are dropped and
	// counted, and a TCP connection whose data is dropped is aborted.
	Window int
	// MaxSessions bounds the clients connected at once (default 64).
	MaxSessions int
	// MaxActors bounds the remote actors of one session (default 1024).
	MaxActors int
	// MaxPending bounds the turns of one session waiting to run in the
	// stack (default 8192); a client past it is disconnected.
	MaxPending int
	// MaxHandles bounds the live assertions and observations of one remote
	// actor (default 4096).
	MaxHandles int
	// MessageLimit bounds each proxy's mailbox for messages (default
	// 4096; see actors.Turn.SetMessageLimit).
	MessageLimit int
	// Logger receives sessions and refusals.
	Logger *zap.Logger
}

func (c *Config) defaults() {
	if c.Heartbeat <= 0 {
		c.Heartbeat = 3 * time.Second
	}
	if c.Window <= 0 {
		c.Window = 16 << 20
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 64
	}
	if c.MaxActors <= 0 {
		c.MaxActors = 1024
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 8192
	}
	if c.MaxHandles <= 0 {
		c.MaxHandles = 4096
	}
	if c.MessageLimit <= 0 {
		c.MessageLimit = 4096
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// Counters are a server's cumulative counts.
type Counters struct {
	Sessions          uint64 // sessions opened
	SessionsLive      uint64 // sessions open now
	RefusedConns      uint64 // connections refused: wrong token, TLS, preamble
	RefusedMessages   uint64 // link messages refused: type, target, form
	RefusedHellos     uint64 // hellos refused: token, limits, reply address
	RefusedTurns      uint64 // remote turns refused by an allow-list or a limit
	Turns             uint64 // remote turns committed
	Events            uint64 // events sent to clients
	EventBytes        uint64 // their bytes
	WindowDrops       uint64 // messages dropped at a client's window
	WindowAborts      uint64 // TCP connections aborted for dropped data
	ProxyDrops        uint64 // messages dropped at a proxy's mailbox limit
	HeartbeatTimeouts uint64 // sessions ended by silence
	Disconnects       uint64 // sessions ended by a lost connection
	Overloads         uint64 // sessions ended for too many pending turns
}

// Server exposes a stack's dataspace to actors in other processes.
type Server struct {
	cfg    Config
	sys    *actors.System
	node   *wire.Node
	tokens wire.TokenTable
	creds  map[string]*Credential
	log    *zap.Logger
	gate   *actor.PID
	sub    any // event stream subscription

	mu       sync.Mutex
	sessions map[string]*session // by session id
	dial     map[string]dialInfo // reply address → how to dial it
	closed   bool

	c struct {
		sessions, refusedConns, refusedMessages, refusedHellos, refusedTurns atomic.Uint64
		turns, events, eventBytes, windowDrops, windowAborts, proxyDrops     atomic.Uint64
		timeouts, disconnects, overloads                                     atomic.Uint64
	}
}

type dialInfo struct {
	secret string
	pin    []byte
}

// Start exposes the dataspace of sys on cfg.Listen.
func Start(sys *actors.System, cfg Config) (*Server, error) {
	cfg.defaults()
	addr, err := wire.ParseAddr(cfg.Listen)
	if err != nil {
		return nil, err
	}
	if len(cfg.Credentials) == 0 {
		return nil, errors.New("relay: no credentials: a link needs a token")
	}
	s := &Server{cfg: cfg, sys: sys, log: cfg.Logger.Named("relay"), creds: map[string]*Credential{},
		sessions: map[string]*session{}, dial: map[string]dialInfo{}}
	for i := range cfg.Credentials {
		c := &cfg.Credentials[i]
		if c.Name == "" || len(c.Token) < 16 {
			return nil, fmt.Errorf("relay: credential %q needs a name and a token of 16 characters or more", c.Name)
		}
		if s.creds[c.Name] != nil {
			return nil, fmt.Errorf("relay: credential %q twice", c.Name)
		}
		s.creds[c.Name] = c
		s.tokens.Add(c.Name, c.Token)
	}
	creds := &wire.Creds{Check: s.tokens.Check, Refused: s.refusedConn, Dial: s.dialClient}
	nc := wire.NodeConfig{Creds: creds, Accept: s.accept, Refused: s.refusedMessage, Log: cfg.Logger}
	switch addr.Net {
	case "unix":
		nc.Listen, nc.FrontDoor, nc.Advertise = "127.0.0.1:0", addr.Path, addr.Target()
	case "tcp":
		if cfg.CertFile == "" || cfg.KeyFile == "" {
			return nil, errors.New("relay: a tcp: link needs a TLS certificate and key")
		}
		tlsCfg, err := wire.ServerTLS(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, err
		}
		creds.ServerTLS = tlsCfg
		nc.Listen = addr.Path
	}
	s.node, err = wire.StartNode(nc)
	if err != nil {
		return nil, err
	}
	s.gate, err = s.node.Sys.Root.SpawnNamed(actor.PropsFromFunc(s.gateReceive), GateName)
	if err != nil {
		s.node.Stop()
		return nil, fmt.Errorf("relay: %w", err)
	}
	s.sub = s.node.Sys.EventStream.Subscribe(func(ev any) {
		if e, ok := ev.(*remote.EndpointTerminatedEvent); ok {
			s.lost(e.Address)
		}
	})
	s.log.Info("actor link listening", zap.String("addr", addr.String()), zap.Int("credentials", len(cfg.Credentials)))
	return s, nil
}

// Addr returns the address clients dial (for a tcp: link, with the port
// the server got if it asked for port 0).
func (s *Server) Addr() string {
	if strings.HasPrefix(s.cfg.Listen, "tcp:") {
		return "tcp:" + s.node.Addr
	}
	return s.cfg.Listen
}

// Close ends every session (retracting what their actors asserted) and
// stops listening.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	all := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		all = append(all, ss)
	}
	s.mu.Unlock()
	for _, ss := range all {
		ss.end("the stack is closing", nil)
	}
	s.node.Stop()
	return nil
}

// Counters returns a snapshot of the server's counters.
func (s *Server) Counters() Counters {
	s.mu.Lock()
	live := uint64(len(s.sessions))
	var drops uint64
	for _, ss := range s.sessions {
		drops += ss.proxyDrops()
	}
	s.mu.Unlock()
	return Counters{
		Sessions: s.c.sessions.Load(), SessionsLive: live,
		RefusedConns: s.c.refusedConns.Load(), RefusedMessages: s.c.refusedMessages.Load(),
		RefusedHellos: s.c.refusedHellos.Load(), RefusedTurns: s.c.refusedTurns.Load(),
		Turns: s.c.turns.Load(), Events: s.c.events.Load(), EventBytes: s.c.eventBytes.Load(),
		WindowDrops: s.c.windowDrops.Load(), WindowAborts: s.c.windowAborts.Load(),
		ProxyDrops: s.c.proxyDrops.Load() + drops, HeartbeatTimeouts: s.c.timeouts.Load(),
		Disconnects: s.c.disconnects.Load(), Overloads: s.c.overloads.Load(),
	}
}

// Refusals are all counted; the first ten of each kind are logged, then
// one in a thousand, so a peer cannot flood the log.
func logSome(n uint64) bool { return n <= 10 || n%1000 == 0 }

func (s *Server) refusedConn(remote net.Addr, reason string) {
	if n := s.c.refusedConns.Add(1); logSome(n) {
		s.log.Warn("actor link: connection refused", zap.Stringer("from", remote), zap.String("reason", reason),
			zap.Uint64("refusals", n))
	}
}

func (s *Server) refusedMessage(reason string) {
	if n := s.c.refusedMessages.Add(1); logSome(n) {
		s.log.Warn("actor link: message refused", zap.String("reason", reason), zap.Uint64("refusals", n))
	}
}

// accept lets a connection authenticated as cred reach the gate and the
// sessions opened with the same credential.
func (s *Server) accept(cred, target string) error {
	if target == GateName {
		return nil
	}
	s.mu.Lock()
	ss := s.sessions[target]
	s.mu.Unlock()
	if ss == nil {
		return fmt.Errorf("no session %q", target)
	}
	if ss.cred.Name != cred {
		return fmt.Errorf("session %q belongs to another credential", target)
	}
	return nil
}

// dialClient tells the transport how to reach a client: with the secret
// it chose, and for TCP with TLS pinned to the certificate it named.
func (s *Server) dialClient(target string) (string, *tls.Config, error) {
	s.mu.Lock()
	di, ok := s.dial[target]
	s.mu.Unlock()
	if !ok {
		return "", nil, fmt.Errorf("relay: no session at %s", target)
	}
	if len(di.pin) > 0 {
		return di.secret, wire.PinnedTLS(di.pin), nil
	}
	return di.secret, nil, nil
}

// gateReceive handles Hellos.
func (s *Server) gateReceive(ctx actor.Context) {
	frame := wire.Unwrap(ctx.Message())
	if frame == nil {
		return
	}
	f, err := wire.Decode(frame, wire.DefaultRegistry)
	h, ok := f.(*wire.Hello)
	if err != nil || !ok {
		if n := s.c.refusedHellos.Add(1); logSome(n) {
			s.log.Warn("actor link: bad hello", zap.Error(err))
		}
		return
	}
	reply := actor.NewPID(h.Reply, h.ReplyID)
	refuse := func(reason string, known bool) {
		if n := s.c.refusedHellos.Add(1); logSome(n) {
			s.log.Warn("actor link: hello refused", zap.String("client", h.Name), zap.String("reason", reason))
		}
		if known {
			if b, err := wire.Encode(&wire.Refused{Reason: reason}); err == nil {
				ctx.Send(reply, wire.Wrap(b))
			}
		}
	}
	name, ok := s.tokens.Check(h.Token)
	if !ok {
		refuse("wrong token", false)
		return
	}
	cred := s.creds[name]
	raddr, err := wire.ParseAddr(h.Reply)
	if err != nil && !isHostPort(h.Reply) {
		refuse("bad reply address", false)
		return
	}
	if strings.HasPrefix(s.cfg.Listen, "unix:") && raddr.Net != "unix" {
		// A client on this machine is reached on a socket of its own: the
		// stack never dials network addresses a unix client names.
		refuse("a client of a unix link must listen on a unix socket", false)
		return
	}
	if (raddr.Net != "unix" && len(h.Pin) == 0) || len(h.Secret) < 16 {
		refuse("a reply address needs a secret, and a TCP one a certificate pin", false)
		return
	}
	id := randomID()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return
	case len(s.sessions) >= s.cfg.MaxSessions:
		s.mu.Unlock()
		s.dialSecret(h)
		refuse("too many sessions", true)
		return
	case s.dial[h.Reply].secret != "":
		s.mu.Unlock()
		refuse("reply address in use by another session", false)
		return
	}
	ss := newSession(s, cred, id, reply, h)
	s.sessions[id] = ss
	s.dial[h.Reply] = dialInfo{secret: h.Secret, pin: h.Pin}
	s.mu.Unlock()
	s.c.sessions.Add(1)
	ss.start()
}

// dialSecret lets the transport reach a refused client once, to tell it.
func (s *Server) dialSecret(h *wire.Hello) {
	s.mu.Lock()
	if _, ok := s.dial[h.Reply]; !ok {
		s.dial[h.Reply] = dialInfo{secret: h.Secret, pin: h.Pin}
		time.AfterFunc(10*time.Second, func() {
			s.mu.Lock()
			if di, ok := s.dial[h.Reply]; ok && di.secret == h.Secret {
				found := false
				for _, ss := range s.sessions {
					found = found || ss.reply.Address == h.Reply
				}
				if !found {
					delete(s.dial, h.Reply)
				}
			}
			s.mu.Unlock()
		})
	}
	s.mu.Unlock()
}

func isHostPort(s string) bool {
	_, _, err := net.SplitHostPort(s)
	return err == nil
}

// lost ends the sessions whose client is at address (its connection is
// gone).
func (s *Server) lost(address string) {
	s.mu.Lock()
	var gone []*session
	for _, ss := range s.sessions {
		if ss.reply.Address == address {
			gone = append(gone, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range gone {
		if ss.end("connection lost", &s.c.disconnects) {
			s.log.Info("actor link: client connection lost", zap.String("session", ss.id))
		}
	}
}

// forget removes an ended session.
func (s *Server) forget(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss.id)
	if di, ok := s.dial[ss.reply.Address]; ok && di.secret == ss.hello.Secret {
		delete(s.dial, ss.reply.Address)
	}
	s.mu.Unlock()
	s.c.proxyDrops.Add(ss.proxyDrops())
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
