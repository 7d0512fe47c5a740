package client_test

import (
	"context"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"netspace/actors"
	"netspace/client"
	ds "netspace/dataspace"
	"netspace/dns"
	"netspace/ip"
	"netspace/relay"
	"netspace/relay/wire"
	"netspace/tcp"

	"go.uber.org/zap"
)

const (
	tokenAll  = "token-all-0123456789"
	tokenPort = "token-port-0123456789"
)

// harness is a relay on a bare actor system (no network stack: the test
// plays the stack's part with actors of its own).
type harness struct {
	sys  *actors.System
	srv  *relay.Server
	addr string
}

func newHarness(t testing.TB, heartbeat time.Duration) *harness {
	t.Helper()
	sys := actors.NewSystem()
	pol, err := relay.ParsePolicy([]string{"tcp-listen:8000..8099"})
	if err != nil {
		t.Fatal(err)
	}
	addr := "unix:" + filepath.Join(t.TempDir(), "link.sock")
	log := testLogger(t)
	if _, bench := t.(*testing.B); bench {
		log = zap.NewNop()
	}
	srv, err := relay.Start(sys, relay.Config{
		Listen: addr,
		Credentials: []relay.Credential{
			{Name: "all", Token: tokenAll},
			{Name: "ports", Token: tokenPort, Allow: pol},
		},
		Heartbeat: heartbeat,
		Logger:    log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); sys.Close(5 * time.Second) })
	return &harness{sys: sys, srv: srv, addr: addr}
}

func (h *harness) dial(t testing.TB, token string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, h.addr, client.Credentials{Token: token}, client.WithName(t.Name()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// events collects what an observer heard, safely across goroutines.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(s string) { e.mu.Lock(); e.got = append(e.got, s); e.mu.Unlock() }

func (e *events) has(s string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, g := range e.got {
		if g == s {
			return true
		}
	}
	return false
}

// TestAssertObserveSendBothWays: a remote actor sees the stack's
// assertions and messages as typed records, and the stack sees its
// assertions, observations and messages; closing the link retracts them.
func TestAssertObserveSendBothWays(t *testing.T) {
	h := newHarness(t, 3*time.Second)
	local := &events{}
	// A stack-side actor: asserts tcp-listening(8001), answers every
	// tcp-consumed with a tcp-writable, and watches tcp-connection.
	h.sys.Spawn("stack-side", func(t *actors.Turn) {
		t.Assert(&tcp.Listening{Port: 8001})
		t.Observe(ds.RecordPattern(tcp.LabelConsumed, ds.CaptureAny, ds.CaptureAny, ds.CaptureAny), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				c := m.(*tcp.Consumed) // typed, as stack actors need
				local.add("consumed")
				t.Send(&tcp.Writable{Remote: c.Remote, Local: c.Local, N: c.N * 2})
			},
		})
		t.Observe(ds.RecordPattern(tcp.LabelConnection, ds.Discard, ds.Discard, ds.CaptureAny), actors.Handler{
			Added:   func(t *actors.Turn, c []ds.Value) { local.add("added " + c[0].AsString()) },
			Removed: func(t *actors.Turn, c []ds.Value) { local.add("removed " + c[0].AsString()) },
		})
	})
	c := h.dial(t, tokenAll)
	remote := &events{}
	peer := &tcp.Address{Host: netip.AddrFrom4([4]byte{192, 0, 2, 1}), Port: 4000}
	me := &tcp.Listener{Port: 8001}
	c.Spawn("remote", func(t *client.Turn) {
		t.Observe(ds.RecordPattern(tcp.LabelListening, ds.CaptureAny), client.Handler{
			Added: func(t *client.Turn, caps []ds.Value) {
				remote.add("listening")
				t.Assert(&tcp.Connection{Remote: peer, Local: me, State: "established"})
				t.Send(&tcp.Consumed{Remote: peer, Local: me, N: 21})
			},
		})
		t.Observe(ds.RecordPattern(tcp.LabelWritable, ds.Discard, ds.Discard, ds.CaptureAny), client.Handler{
			Message: func(t *client.Turn, m ds.Record) {
				w := m.(*tcp.Writable)
				if caps := t.Captures(); len(caps) == 1 && caps[0].AsInt() == 42 && w.N == 42 {
					remote.add("writable 42")
				}
			},
		})
	})
	waitFor(t, 5*time.Second, "the round trip", func() bool {
		return remote.has("listening") && local.has("consumed") && remote.has("writable 42") && local.has("added established")
	})
	c.Close()
	waitFor(t, 5*time.Second, "retraction after Close", func() bool { return local.has("removed established") })
	waitFor(t, 5*time.Second, "the session to end", func() bool { return h.srv.Counters().SessionsLive == 0 })
}

func TestWrongTokenRefused(t *testing.T) {
	h := newHarness(t, 3*time.Second)
	before := h.sys.Stats().Assertions
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := client.Dial(ctx, h.addr, client.Credentials{Token: "not-the-token-at-all"})
	if !errors.Is(err, wire.ErrBadToken) {
		t.Fatalf("Dial with a wrong token: %v, want ErrBadToken", err)
	}
	cs := h.srv.Counters()
	if cs.RefusedConns == 0 || cs.Sessions != 0 {
		t.Fatalf("counters after a wrong token: %+v", cs)
	}
	if after := h.sys.Stats().Assertions; after != before {
		t.Fatalf("assertions %d → %d after a refused client", before, after)
	}
}

// TestAllowListRefusesWholeTurn: a credential limited to ports
// 8000–8099 may listen on 8001 but not 9000; a turn that tries both is
// refused whole, so not even its allowed part reaches the dataspace.
func TestAllowListRefusesWholeTurn(t *testing.T) {
	h := newHarness(t, 3*time.Second)
	c := h.dial(t, tokenPort)
	ok := ds.RecordPattern(tcp.LabelListening, ds.Lit(ds.Int(8001)))
	bad := tcp.ChannelFrom(tcp.ListenerPattern(9000))
	good := tcp.ChannelFrom(tcp.ListenerPattern(8001))
	a := c.Spawn("mixed", func(t *client.Turn) {
		t.Observe(ok, client.Handler{})
		t.Observe(bad, client.Handler{})
	})
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the refused actor did not end")
	}
	if err := a.Err(); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("actor error %v, want a refusal", err)
	}
	if n := h.sys.Count(&ds.Observe{Pattern: ok}); n != 0 {
		t.Fatalf("the allowed half of a refused turn reached the dataspace (%d)", n)
	}
	if h.srv.Counters().RefusedTurns == 0 {
		t.Fatal("refusal not counted")
	}
	// The same credential may listen on its ports.
	c.Spawn("fine", func(t *client.Turn) { t.Observe(good, client.Handler{}) })
	waitFor(t, 5*time.Second, "the allowed observation", func() bool {
		return h.sys.Count(&ds.Observe{Pattern: good}) == 1
	})
	// Messages the stack's protocols would never take from a user are
	// refused whatever the allow-list: an "all" client cannot inject
	// packets.
	all := h.dial(t, tokenAll)
	inj := all.Spawn("injector", func(t *client.Turn) {
		t.Send(&tcp.Listening{Port: 1})
	})
	select {
	case <-inj.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the injecting actor was not refused")
	}
}

// TestClientDeathRetracts: a client whose transport dies without a
// goodbye loses everything it asserted within the heartbeat bound.
func TestClientDeathRetracts(t *testing.T) {
	h := newHarness(t, time.Second)
	c := h.dial(t, tokenAll)
	rec := &tcp.Listening{Port: 8050}
	c.Spawn("asserter", func(t *client.Turn) { t.Assert(rec) })
	waitFor(t, 5*time.Second, "the assertion", func() bool { return h.sys.Count(rec) == 1 })
	start := time.Now()
	client.KillForTest(c)
	waitFor(t, 3*time.Second, "the retraction", func() bool { return h.sys.Count(rec) == 0 })
	t.Logf("retracted %v after the client died", time.Since(start).Round(time.Millisecond))
}

// TestUDPAndDNSRecords: a datagram sent by a remote actor reaches the
// stack as the typed records the UDP actor type-asserts (nested
// *ip.UDPAddress included), and a dns-answer asserted in the stack
// reaches a remote observer with its captures.
func TestUDPAndDNSRecords(t *testing.T) {
	h := newHarness(t, 3*time.Second)
	got := &events{}
	h.sys.Spawn("stack-side", func(t *actors.Turn) {
		t.Assert(&dns.Answer{Name: "www.test", Type: 1, Value: ds.Addr(netip.MustParseAddr("192.0.2.80"))})
		t.Observe(ds.RecordPattern(ip.LabelUDPChannel, ds.Discard, ds.Discard, ds.Discard), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				u := m.(*ip.UDPChannel)
				if dst, ok := u.Dst.(*ip.UDPAddress); ok && dst.Port == 53 && string(u.Body) == "query" {
					got.add("udp")
				}
			},
		})
	})
	c := h.dial(t, tokenAll)
	c.Spawn("remote", func(t *client.Turn) {
		t.Observe(dns.AnswerPattern("www.test", 1), client.Handler{
			Added: func(t *client.Turn, caps []ds.Value) {
				if caps[0].AsAddr() == netip.MustParseAddr("192.0.2.80") {
					got.add("dns")
				}
			},
		})
		t.Send(&ip.UDPChannel{Src: &ip.UDPHandle{ID: ds.String(t.Conn().HandleID("q"))},
			Dst: &ip.UDPAddress{Host: netip.MustParseAddr("192.0.2.53"), Port: 53}, Body: []byte("query")})
	})
	waitFor(t, 5*time.Second, "udp and dns records", func() bool { return got.has("udp") && got.has("dns") })
}

// TestLargeTurns: a turn larger than a link frame (many messages, and a
// message larger than a frame) crosses whole and in order, both ways.
func TestLargeTurns(t *testing.T) {
	h := newHarness(t, 3*time.Second)
	var got atomic.Int64
	var bad atomic.Bool
	peer := &tcp.Address{Host: netip.MustParseAddr("192.0.2.1"), Port: 1}
	me := &tcp.Listener{Port: 8000}
	h.sys.Spawn("stack-side", func(t *actors.Turn) {
		next := byte(0)
		t.Observe(ds.RecordPattern(tcp.LabelChannel, tcp.ListenerPattern(8000), ds.Discard, ds.Discard), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				for _, b := range m.(*tcp.Channel).Data {
					if b != next {
						bad.Store(true)
					}
					next++
				}
				got.Add(int64(len(m.(*tcp.Channel).Data)))
			},
		})
		// And a large message the other way (a connection hands over all
		// it has read at once).
		t.Send(&tcp.Channel{Src: peer, Dst: me, Data: make([]byte, 1<<20)})
	})
	c := h.dial(t, tokenAll)
	var back atomic.Int64
	stream := make([]byte, 3<<20)
	for i := range stream {
		stream[i] = byte(i)
	}
	c.Spawn("big", func(t *client.Turn) {
		t.Observe(ds.RecordPattern(tcp.LabelChannel, ds.Discard, tcp.ListenerPattern(8000), ds.Discard), client.Handler{
			Message: func(t *client.Turn, m ds.Record) { back.Add(int64(len(m.(*tcp.Channel).Data))) },
		})
		// 2 MiB as 64 KiB messages, then 1 MiB in one: one turn.
		for off := 0; off < 2<<20; off += 64 << 10 {
			t.Send(&tcp.Channel{Src: me, Dst: peer, Data: stream[off : off+64<<10]})
		}
		t.Send(&tcp.Channel{Src: me, Dst: peer, Data: stream[2<<20:]})
	})
	waitFor(t, 10*time.Second, "3 MiB in one turn", func() bool { return got.Load() == 3<<20 })
	if bad.Load() {
		t.Fatal("the stream arrived out of order")
	}
	// The stack's 1 MiB message was sent before the client observed, so
	// it is not heard; a second one is.
	h.sys.Spawn("again", func(t *actors.Turn) { t.Send(&tcp.Channel{Src: peer, Dst: me, Data: make([]byte, 1<<20)}) })
	waitFor(t, 10*time.Second, "1 MiB message from the stack", func() bool { return back.Load() == 1<<20 })
}

// TestStackGoneEndsClient: when the stack closes, the client's Done
// closes and its actors stop, saying why.
func TestStackGoneEndsClient(t *testing.T) {
	h := newHarness(t, 3*time.Second)
	c := h.dial(t, tokenAll)
	stopped := make(chan struct{})
	a := c.Spawn("waiter", func(t *client.Turn) {
		t.OnStop(func() { close(stopped) })
		t.Observe(ds.RecordPattern(tcp.LabelListening, ds.CaptureAny), client.Handler{})
	})
	h.srv.Close()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not notice the stack closing")
	}
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the actor did not stop")
	}
	if c.Err() == nil || a.Err() == nil {
		t.Fatalf("errors: link %v, actor %v", c.Err(), a.Err())
	}
}
