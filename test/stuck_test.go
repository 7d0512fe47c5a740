package test

// Slow and stuck peers: a kernel client that never reads (the stack
// probes the zero window, memory stays put), peers that vanish without a
// FIN (keepalive and the retransmission limit reclaim their
// connections), and 10,000 connections left half-open by spoofed SYNs
// (bounded, then reclaimed when the SYN-ACK retries give up).

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"netspace"
	"netspace/tcp"
)

// dialSmallBuffer dials the stack from the kernel with a receive buffer
// of rcvbuf bytes, so that a client that does not read closes its window
// soon.
func (k *hostile) dialSmallBuffer(port, rcvbuf int) (*net.TCPConn, error) {
	var c *net.TCPConn
	err := k.ns.Do(func() error {
		d := net.Dialer{Timeout: 10 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			}); err != nil {
				return err
			}
			return serr
		}}
		conn, err := d.Dial("tcp4", net.JoinHostPort(stackAddr, strconv.Itoa(port)))
		if err == nil {
			c = conn.(*net.TCPConn)
		}
		return err
	})
	return c, err
}

// probes records the stack's probes on a tracked connection — bare ACKs
// one below the kernel's last acknowledgment, which is what both a
// zero-window probe and a keepalive look like here — and the kernel's
// zero windows.
type probes struct {
	tr        *tracked
	mu        sync.Mutex
	at        []time.Time
	zeroSince time.Time // the kernel's first zero window, if any
	fromStack int       // segments the stack sent since the zero window
}

func (p *probes) observe(f sniffed) bool {
	src, _, h, ok := f.segment()
	if !ok || !p.tr.observe(f) {
		return false
	}
	p.tr.mu.Lock()
	kernelAck := p.tr.fromKernel.ack
	p.tr.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if src == p.tr.kernel {
		if h.Window() == 0 && p.zeroSince.IsZero() {
			p.zeroSince = f.at
		}
		return false
	}
	if !p.zeroSince.IsZero() {
		p.fromStack++
	}
	if h.Flags() == tcp.FlagACK && len(h.Payload()) == 0 && h.Seq() == kernelAck.Add(-1) {
		p.at = append(p.at, f.at)
	}
	return false
}

func (p *probes) snapshot() (at []time.Time, zeroSince time.Time, fromStack int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]time.Time(nil), p.at...), p.zeroSince, p.fromStack
}

func TestHostileZeroWindowPeer(t *testing.T) {
	const stall = 15 * time.Second
	k := newHostile(t, nil)
	c, err := k.dialSmallBuffer(19, 8192)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &probes{tr: &tracked{kernel: kernelEnd(c), stack: netip.AddrPortFrom(stackIP, 19)}}
	k.sniffWith(t, p.observe)
	base := liveHeap()
	// The client reads nothing: the source fills the kernel's buffer and
	// the kernel closes its window.
	var zero time.Time
	waitFor(t, 10*time.Second, func() bool { _, zero, _ = p.snapshot(); return !zero.IsZero() },
		func() string { return "the kernel never advertised a zero window" })
	watch := watchHeap(50 * time.Millisecond)
	tx0 := k.link.Stats().TxFrames
	time.Sleep(stall)
	tx := k.link.Stats().TxFrames - tx0
	peak := watch.Stop()
	live := liveHeap()
	at, _, sent := p.snapshot()
	var during []time.Time
	for _, a := range at {
		if a.After(zero) {
			during = append(during, a)
		}
	}
	if len(during) < 3 {
		t.Fatalf("%d zero-window probes in %v of zero window; want at least 3", len(during), stall)
	}
	// Backed off: each interval at least about the one before.
	for i := 2; i < len(during); i++ {
		if prev, cur := during[i-1].Sub(during[i-2]), during[i].Sub(during[i-1]); cur < prev*8/10 {
			t.Errorf("probe interval %d is %v after %v: not backed off", i, cur, prev)
		}
	}
	if sent > 3*len(during)+10 || tx > 200 {
		t.Errorf("the stack sent %d segments on the stalled connection (%d frames in all) in %v: it spins", sent, tx, stall)
	}
	if live > base+8<<20 {
		t.Errorf("live heap %s after %v of zero window, over %s before it", mib(live), stall, mib(base))
	}
	if a := k.st.Counters()["tcp.active"]; a != 1 {
		t.Errorf("tcp.active is %d: the stalled connection must live on while its probes are answered", a)
	}
	var gaps []string
	for i := 1; i < len(during); i++ {
		gaps = append(gaps, during[i].Sub(during[i-1]).Round(10*time.Millisecond).String())
	}
	// The client reads again: the stream resumes.
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := io.CopyN(io.Discard, c, 4<<20)
	if err != nil {
		t.Fatalf("after the stall, read %d bytes: %v", n, err)
	}
	figure(t, "%v of zero window: %d probes (intervals %v), %d segments and %d frames sent in all; heap before %s, sampled peak %s, after %s; then 4 MiB read at once",
		stall, len(during), gaps, sent, tx, mib(base), mib(peak), mib(live))
}

// vanish deletes the kernel's address: its sockets stay, silent, and
// what the stack sends them is dropped. No FIN, no RST. The address comes
// back at cleanup if the test has not put it back.
func (k *hostile) vanish(t *testing.T) {
	k.ns.MustRun(t, "ip", "addr", "del", kernelCIDR, "dev", "tap0")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		k.ns.Run(ctx, "ip", "addr", "replace", kernelCIDR, "dev", "tap0")
	})
}

func (k *hostile) reappear(t *testing.T) {
	k.ns.MustRun(t, "ip", "addr", "replace", kernelCIDR, "dev", "tap0")
}

func TestHostileVanishedIdlePeer(t *testing.T) {
	const (
		idle     = time.Second
		interval = 500 * time.Millisecond
		count    = 3
	)
	k := newHostile(t, func(c *netspace.Config) {
		c.TCP.Conn.KeepAlive = true
		c.TCP.Conn.KeepIdle, c.TCP.Conn.KeepInterval, c.TCP.Conn.KeepCount = idle, interval, count
	})
	base := k.st.Counters()
	c, err := k.dialStack(7)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := &probes{tr: &tracked{kernel: kernelEnd(c), stack: netip.AddrPortFrom(stackIP, 7)}}
	k.sniffWith(t, p.observe)
	if err := echoPart(c, random(1024, 30)); err != nil {
		t.Fatal(err)
	}
	// While the kernel answers, probes keep the connection through more
	// than a whole cycle of KeepIdle and KeepCount probes.
	waitFor(t, 5*time.Second, func() bool { at, _, _ := p.snapshot(); return len(at) >= 2 },
		func() string { return "no keepalive probes on an idle connection" })
	time.Sleep(idle + count*interval + interval)
	if a := delta(base, k.st.Counters(), "tcp.active"); a != 1 {
		t.Fatalf("tcp.active moved by %d: a connection whose keepalives are answered was dropped", a)
	}
	// The kernel loses its address: nothing answers, no FIN.
	before := k.st.Counters()
	at0, _, _ := p.snapshot()
	gone := time.Now()
	k.vanish(t)
	waitFor(t, 10*time.Second, func() bool { return k.st.Counters()["tcp.active"] <= base["tcp.active"] },
		func() string {
			return fmt.Sprintf("the connection outlived its vanished peer: %v", nonZero(k.st.Counters()))
		})
	took := time.Since(gone)
	at, _, _ := p.snapshot()
	if n := len(at) - len(at0); n < count {
		t.Errorf("%d keepalive probes after the peer vanished; want %d before giving up", n, count)
	}
	if limit := idle + count*interval + 2*time.Second; took > limit {
		t.Errorf("reclaimed after %v; keepalive should give up within %v", took, limit)
	}
	after := k.st.Counters()
	figure(t, "peer gone while idle: %d keepalive probes, connection reclaimed %v later (KeepIdle %v, KeepInterval %v, KeepCount %d); tcp.resets_sent +%d",
		len(at)-len(at0), took.Round(10*time.Millisecond), idle, interval, count, delta(before, after, "tcp.resets_sent"))
	k.reappear(t)
	k.healthy(t, "a vanished idle peer")
}

func TestHostileVanishedPeerMidTransfer(t *testing.T) {
	const retries = 5
	k := newHostile(t, func(c *netspace.Config) { c.TCP.Conn.MaxRTO, c.TCP.Conn.MaxRetries = time.Second, retries })
	base := k.st.Counters()
	c, err := k.dialStack(19)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.CopyN(io.Discard, c, 1<<20); err != nil {
		t.Fatal(err)
	}
	// The client keeps reading: the stack has data in flight when the
	// peer goes.
	go io.Copy(io.Discard, c)
	before := k.st.Counters()
	gone := time.Now()
	k.vanish(t)
	waitFor(t, 20*time.Second, func() bool { return k.st.Counters()["tcp.active"] <= base["tcp.active"] },
		func() string {
			return fmt.Sprintf("the connection outlived its vanished peer: %v", nonZero(k.st.Counters()))
		})
	took := time.Since(gone)
	after := k.st.Counters()
	if n := delta(before, after, "tcp.timeouts"); n < retries+1 {
		t.Errorf("tcp.timeouts moved by %d; want the %d retries and the last", n, retries)
	}
	figure(t, "peer gone mid-transfer: connection reclaimed %v later after %d retransmission timeouts (MaxRetries %d, MaxRTO 1s); %d retransmissions",
		took.Round(10*time.Millisecond), delta(before, after, "tcp.timeouts"), retries, delta(before, after, "tcp.retransmits"))
	k.reappear(t)
	k.healthy(t, "a vanished peer mid-transfer")
}

func TestHostileHalfOpen(t *testing.T) {
	const (
		halfOpen   = 10_000
		synRetries = 3
	)
	// Every SYN gets a connection (a backlog beyond them all); the
	// SYN-ACK is sent 1+3 times, 0.2, 0.4, 0.8 s apart, and given up
	// 1.6 s later.
	k := newHostile(t, func(c *netspace.Config) {
		c.TCP.Backlog = 2 * halfOpen
		c.TCP.Conn.InitialRTO, c.TCP.Conn.SynRetries = 200*time.Millisecond, synRetries
	})
	base := liveHeap()
	_, rssBase := rss()
	before := k.st.Counters()
	watch := watchHeap(20 * time.Millisecond)
	rng := rand.New(rand.NewPCG(10, 0))
	start := time.Now()
	echo := netip.AddrPortFrom(stackIP, 7)
	err := k.sendPaced(halfOpen, 256, time.Minute, func(i int) []byte {
		src := netip.AddrPortFrom(spoofed(50000+i), uint16(1024+i))
		return k.fromAttackerTo(i, tcpDatagram(src, echo, tcp.HeaderFields{Seq: tcp.Seq(rng.Uint32()), Flags: tcp.FlagSYN, Window: 64240, Options: synOptions(rng.Uint32())}, nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Since(start)
	k.waitCounters(t, 10*time.Second, before, map[string]int64{"tcp.syns": halfOpen})
	full := k.st.Counters()
	heapFull := liveHeap()
	_, rssFull := rss()
	active := full["tcp.active"] - before["tcp.active"]
	if active < halfOpen*9/10 {
		t.Fatalf("only %d half-open connections after %d SYNs in %v", active, halfOpen, sent)
	}
	// Still serving, with them all there.
	k.healthy(t, fmt.Sprintf("%d half-open connections", active))
	// They give up and go.
	waitFor(t, 30*time.Second, func() bool { return k.st.Counters()["tcp.active"] <= before["tcp.active"] },
		func() string { return fmt.Sprintf("half-open connections not reclaimed: %v", nonZero(k.st.Counters())) })
	reclaimed := time.Since(start)
	peak := watch.Stop()
	after := k.st.Counters()
	settled := liveHeap()
	for end := time.Now().Add(3 * time.Second); settled > base+8<<20 && time.Now().Before(end); {
		time.Sleep(100 * time.Millisecond)
		settled = liveHeap()
	}
	perConn := float64(heapFull-base) / float64(active)
	if perConn > 40<<10 {
		t.Errorf("%.1f KiB of heap per half-open connection", perConn/1024)
	}
	// What is left once they are gone is a small part of what they held.
	if settled > base+(heapFull-base)/4 {
		t.Errorf("live heap %s once the half-open connections are gone (%s with them, %s before)", mib(settled), mib(heapFull), mib(base))
	}
	// (The health check's own connections may add a retransmission or
	// two.)
	if n := delta(before, after, "tcp.retransmits"); n < halfOpen*synRetries || n > halfOpen*synRetries+50 {
		t.Errorf("tcp.retransmits moved by %d; want %d SYN-ACKs sent again (%d each)", n, halfOpen*synRetries, synRetries)
	}
	if n := delta(before, after, "tcp.opened") + delta(before, after, "tcp.cookies_sent"); n > 2 {
		t.Errorf("%d of the half-open connections opened or got cookies", n)
	}
	figure(t, "%d spoofed SYNs in %v: %d half-open connections, SYN-ACKs sent %d times more, all reclaimed %v after the first SYN",
		halfOpen, sent.Round(time.Millisecond), active, delta(before, after, "tcp.retransmits"), reclaimed.Round(100*time.Millisecond))
	figure(t, "heap: baseline %s, live with all half-open %s (%.1f KiB each), sampled peak %s, live once reclaimed %s; RSS %s → %s; mailbox drops tcp %d",
		mib(base), mib(heapFull), perConn/1024, mib(peak), mib(settled), mib(rssBase), mib(rssFull), delta(before, after, "tcp.mailbox_dropped"))
	k.healthy(t, "the half-open connections")
	t.Run("heap back to its baseline", func(t *testing.T) {
		t.Skip("BUG: dataspace/actors: the maps behind the routing index (dataspace recordSet and bag, by the connections' " +
			"observations) and protoactor's process registry keep their high-water capacity after the observers and actors " +
			"are gone — Go maps never shrink: once 10,000 half-open connections have come and gone, ~32 MiB stays live " +
			"(heap profile: dataspace.recordSet.add 21 MB, dataspace.(*bag).add 9 MB, concurrent-map SetIfAbsent 5 MB), " +
			"and further rounds of 10,000 add ~1 MiB each, slowing; the index could rebuild a map that has become sparse")
		if settled > base+8<<20 {
			t.Fatalf("live heap %s once the half-open connections are gone, over a baseline of %s", mib(settled), mib(base))
		}
	})
}
