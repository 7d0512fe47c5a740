package test

// The kit of the hostile-network suites (malformed_test.go,
// flood_test.go, blind_test.go, stuck_test.go): a stack on a TAP device in
// a fresh namespace, as newKernelStack builds it but with its Config open
// to the test; a packet socket on the kernel side of the TAP that sends
// whole Ethernet frames the test builds (they reach the stack as if from
// the wire); a sniffer on the same side that sees every frame both ways;
// frame builders over the stack's own wire formats; a health check (ping,
// TCP echo, HTTP); and heap and RSS readings.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"netspace"
	"netspace/drivers"
	"netspace/ethernet"
	"netspace/ip"
	"netspace/tcp"
	"netspace/test/nettest"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/sys/unix"
)

var (
	kernelIP = netip.MustParseAddr("192.0.2.1")
	stackIP  = netip.MustParseAddr(stackAddr)
)

// hostile is a stack under attack from the kernel side of its TAP.
type hostile struct {
	*kernelStack
	link      *tapLink
	kernelMAC ethernet.MAC
	raw       *rawSocket
}

// newHostile builds a stack on a TAP in a fresh namespace (the kernel at
// 192.0.2.1, the stack at 192.0.2.2) serving UDP echo (7), TCP echo (7),
// discard (9), source (19) and HTTP (80). configure, if not nil, edits the
// stack's Config first. No capture: floods would fill it.
func newHostile(t *testing.T, configure func(*netspace.Config)) *hostile {
	nettest.RequireRoot(t)
	// The test's peak RSS, for docs/reliability.md: memory the runtime
	// kept from earlier tests goes back first.
	debug.FreeOSMemory()
	resetPeakRSS()
	t.Cleanup(func() {
		if _, peak := rss(); peak > 0 {
			figure(t, "peak RSS %s", mib(peak))
		}
	})
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", kernelCIDR)
	tap, err := ns.OpenTAP("tap0")
	if err != nil {
		t.Fatal(err)
	}
	link := &tapLink{Link: tap}
	cfg := netspace.Config{
		Link:    link,
		Addrs:   []netip.Prefix{netip.MustParsePrefix(stackAddr + "/24")},
		Gateway: kernelIP,
		Logger:  zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	}
	if configure != nil {
		configure(&cfg)
	}
	st, err := netspace.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	st.ServeUDPEcho(7)
	st.ServeTCPEcho(7)
	st.ServeTCPDiscard(9)
	st.ServeTCPSource(19)
	if err := st.ServeHTTP(80, netspace.HelloHandler()); err != nil {
		t.Fatal(err)
	}
	h := &hostile{kernelStack: &kernelStack{ns: ns, st: st}, link: link}
	err = ns.Do(func() error {
		ifi, err := net.InterfaceByName("tap0")
		if err != nil {
			return err
		}
		h.kernelMAC = ethernet.MAC(ifi.HardwareAddr)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	h.raw = h.openRaw(t)
	// The kernel resolves the stack and the stack the kernel (its
	// gateway) before any test traffic: later, an ARP exchange lost in a
	// flood would look like a failure of whatever is measured.
	h.ping(t, 1, 56)
	return h
}

// tapLink wraps the stack's TAP: it counts the frames from attackers
// (source MACs starting 02:00:c6, see attackerMAC) the stack has finished
// handling — the receive path runs inline up to TCP listeners, so this
// paces a flood — and lets a test hand the stack frames the kernel will
// not send: shorter than an Ethernet header.
type tapLink struct {
	drivers.Link
	mu      sync.Mutex // serialises rx: the reader's bursts and injections
	rx      func([][]byte)
	handled atomic.Uint64
}

// attackerMAC is the i-th MAC of the flooding hosts.
func attackerMAC(i int) ethernet.MAC {
	return ethernet.MAC{0x02, 0x00, 0xc6, byte(i >> 16), byte(i >> 8), byte(i)}
}

func fromAttacker(f []byte) bool {
	return len(f) >= ethernet.HeaderLen && f[6] == 0x02 && f[7] == 0x00 && f[8] == 0xc6
}

func (l *tapLink) Start(rx func([][]byte)) error {
	l.mu.Lock()
	l.rx = rx
	l.mu.Unlock()
	return l.Link.Start(func(frames [][]byte) {
		l.mu.Lock()
		rx(frames)
		l.mu.Unlock()
		n := 0
		for _, f := range frames {
			if fromAttacker(f) {
				n++
			}
		}
		l.handled.Add(uint64(n))
	})
}

// inject hands frames to the stack's receive path as if read from the
// device.
func (l *tapLink) inject(frames ...[]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rx != nil {
		l.rx(frames)
	}
}

// rawSocket is an AF_PACKET socket bound to the kernel side of tap0:
// what it sends, the kernel transmits on the TAP, and the stack reads.
type rawSocket struct{ fd int }

func (k *hostile) openRaw(t *testing.T) *rawSocket {
	var fd int
	err := k.ns.Do(func() error {
		ifi, err := net.InterfaceByName("tap0")
		if err != nil {
			return err
		}
		// Protocol 0: a socket that sends and never receives.
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("packet socket on tap0: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return &rawSocket{fd: fd}
}

// send transmits whole Ethernet frames, waiting briefly (bounded) when the
// device queue is full.
func (r *rawSocket) send(frames ...[]byte) error {
	for _, f := range frames {
		for try := 0; ; try++ {
			_, err := unix.Write(r.fd, f)
			if err == nil {
				break
			}
			if !errors.Is(err, unix.ENOBUFS) && !errors.Is(err, unix.EAGAIN) || try == 1000 {
				return fmt.Errorf("packet socket: send %d bytes: %w", len(f), err)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

// sendPaced sends n frames made by next(i), each from an attackerMAC,
// keeping at most window of them sent but not yet handled by the stack,
// so the TAP queue (1,000 frames) never overflows and every frame is
// processed. It gives up after limit.
func (k *hostile) sendPaced(n, window int, limit time.Duration, next func(i int) []byte) error {
	base := k.link.handled.Load()
	deadline := time.Now().Add(limit)
	for i := 0; i < n; i++ {
		for uint64(i) > k.link.handled.Load()-base+uint64(window) {
			if time.Now().After(deadline) {
				return fmt.Errorf("paced send: %d of %d frames sent, %d handled after %v", i, n, k.link.handled.Load()-base, limit)
			}
			time.Sleep(50 * time.Microsecond)
		}
		f := next(i)
		if !fromAttacker(f) {
			return fmt.Errorf("paced send: frame %d is not from an attacker's MAC", i)
		}
		if err := k.raw.send(f); err != nil {
			return err
		}
	}
	return nil
}

// fromAttackerTo wraps an IPv4 datagram in a frame from the i-th
// attacker's MAC to the stack's.
func (k *hostile) fromAttackerTo(i int, datagram []byte) []byte {
	return ethFrame(k.st.MAC, attackerMAC(i), ethernet.EtherTypeIPv4, datagram)
}

// toStack wraps an IPv4 datagram in a frame from the kernel's MAC to the
// stack's.
func (k *hostile) toStack(datagram []byte) []byte {
	return ethFrame(k.st.MAC, k.kernelMAC, ethernet.EtherTypeIPv4, datagram)
}

// ethFrame builds an Ethernet frame.
func ethFrame(dst, src ethernet.MAC, etherType uint16, payload []byte) []byte {
	b := make([]byte, ethernet.HeaderLen+len(payload))
	ethernet.PutHeader(b, dst, src, etherType)
	copy(b[ethernet.HeaderLen:], payload)
	return b
}

// ipv4Datagram builds an IPv4 datagram: f's header (TotalLen computed if
// zero, TTL 64 if zero) and payload.
func ipv4Datagram(f ip.IPv4Fields, payload []byte) []byte {
	if f.TTL == 0 {
		f.TTL = 64
	}
	hl := f.HeaderLen()
	if f.TotalLen == 0 {
		f.TotalLen = uint16(hl + len(payload))
	}
	b := make([]byte, hl+len(payload))
	ip.PutIPv4Header(b, &f)
	copy(b[hl:], payload)
	return b
}

// tcpSegment builds a TCP segment from src to dst with a correct checksum.
func tcpSegment(src, dst netip.AddrPort, hf tcp.HeaderFields, payload []byte) []byte {
	hf.SrcPort, hf.DstPort = src.Port(), dst.Port()
	hl := hf.HeaderLen()
	seg := make([]byte, hl+len(payload))
	tcp.PutHeader(seg, &hf)
	copy(seg[hl:], payload)
	tcp.SetChecksum(seg, src.Addr(), dst.Addr())
	return seg
}

// tcpDatagram is tcpSegment in an IPv4 datagram.
func tcpDatagram(src, dst netip.AddrPort, hf tcp.HeaderFields, payload []byte) []byte {
	return ipv4Datagram(ip.IPv4Fields{Protocol: ip.ProtocolTCP, Src: src.Addr(), Dst: dst.Addr()},
		tcpSegment(src, dst, hf, payload))
}

// udpDatagram builds a UDP datagram with a correct checksum, in IPv4.
func udpDatagram(src, dst netip.AddrPort, payload []byte) []byte {
	u := make([]byte, ip.UDPHeaderLen+len(payload))
	ip.PutUDPHeader(u, src.Port(), dst.Port(), len(payload))
	copy(u[ip.UDPHeaderLen:], payload)
	ip.SetUDPChecksum(u, src.Addr(), dst.Addr())
	return ipv4Datagram(ip.IPv4Fields{Protocol: ip.ProtocolUDP, Src: src.Addr(), Dst: dst.Addr()}, u)
}

// icmpEcho builds an ICMP echo request message.
func icmpEcho(id, seq uint16, data []byte) []byte {
	m := make([]byte, ip.ICMPHeaderLen+len(data))
	ip.PutICMP(m, ip.ICMPTypeEchoRequest, 0, uint32(id)<<16|uint32(seq), data)
	return m
}

// sniffed is one frame seen on the kernel side of tap0.
type sniffed struct {
	at        time.Time
	fromStack bool // read by the kernel (else sent by it or by the packet socket)
	data      []byte
}

// sniffer records the frames on tap0, both ways, from a packet socket in
// the namespace.
type sniffer struct {
	fd     int
	keep   func(sniffed) bool // nil: keep every frame
	mu     sync.Mutex
	frames []sniffed
	lost   int
	stop   atomic.Bool
	done   chan struct{}
}

// maxSniffed bounds the frames a sniffer keeps.
const maxSniffed = 200_000

func (k *hostile) sniff(t *testing.T) *sniffer { return k.sniffWith(t, nil) }

// sniffWith is sniff that shows every frame to keep, on the sniffer's
// goroutine, and records only those it returns true for.
func (k *hostile) sniffWith(t *testing.T, keep func(sniffed) bool) *sniffer {
	s := &sniffer{done: make(chan struct{}), keep: keep}
	err := k.ns.Do(func() error {
		ifi, err := net.InterfaceByName("tap0")
		if err != nil {
			return err
		}
		all := int(htons(unix.ETH_P_ALL))
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, all)
		if err != nil {
			return err
		}
		s.fd = fd
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
		tv := unix.NsecToTimeval(int64(50 * time.Millisecond))
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			unix.Close(fd)
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatalf("sniffer on tap0: %v", err)
	}
	go s.run()
	t.Cleanup(s.close)
	return s
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (s *sniffer) run() {
	defer close(s.done)
	buf := make([]byte, 70000)
	for !s.stop.Load() {
		n, from, err := unix.Recvfrom(s.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		ll, _ := from.(*unix.SockaddrLinklayer)
		f := sniffed{at: time.Now(), fromStack: ll != nil && ll.Pkttype != unix.PACKET_OUTGOING, data: buf[:n]}
		if s.keep != nil && !s.keep(f) {
			continue
		}
		f.data = append([]byte(nil), f.data...)
		s.mu.Lock()
		if len(s.frames) < maxSniffed {
			s.frames = append(s.frames, f)
		} else {
			s.lost++
		}
		s.mu.Unlock()
	}
}

func (s *sniffer) close() {
	if s.stop.Swap(true) {
		return
	}
	<-s.done
	unix.Close(s.fd)
}

// since returns the frames recorded from index i on, and the next index.
func (s *sniffer) since(i int) ([]sniffed, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sniffed(nil), s.frames[i:]...), len(s.frames)
}

// mark is the index of the next frame to be recorded.
func (s *sniffer) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frames)
}

// waitFor polls until a frame recorded from index from on satisfies
// match, and returns it, or fails the test after d.
func (s *sniffer) waitFor(t *testing.T, from int, d time.Duration, what string, match func(sniffed) bool) sniffed {
	t.Helper()
	var found *sniffed
	waitFor(t, d, func() bool {
		fs, _ := s.since(from)
		for i := range fs {
			if match(fs[i]) {
				found = &fs[i]
				return true
			}
		}
		return false
	}, func() string { return "sniffer: never saw " + what })
	return *found
}

// count returns the frames recorded from index from on that satisfy match.
func (s *sniffer) count(from int, match func(sniffed) bool) int {
	fs, _ := s.since(from)
	n := 0
	for _, f := range fs {
		if match(f) {
			n++
		}
	}
	return n
}

// datagram returns the IPv4 datagram a frame carries, checked.
func (f sniffed) datagram() (ip.IPv4, bool) {
	fr := ethernet.Frame(f.data)
	if fr.Check() != nil || fr.EtherType() != ethernet.EtherTypeIPv4 {
		return nil, false
	}
	d := ip.IPv4(fr.Payload())
	if d.Check() != nil {
		return nil, false
	}
	return d[:d.TotalLen()], true
}

// segment returns the TCP segment a frame carries and its endpoints.
func (f sniffed) segment() (src, dst netip.AddrPort, h tcp.Header, ok bool) {
	d, ok := f.datagram()
	if !ok || d.Protocol() != ip.ProtocolTCP || d.IsFragment() {
		return src, dst, nil, false
	}
	h = tcp.Header(d.Payload())
	if h.Check() != nil {
		return src, dst, nil, false
	}
	return netip.AddrPortFrom(d.Src(), h.SrcPort()), netip.AddrPortFrom(d.Dst(), h.DstPort()), h, true
}

// icmp returns the ICMP message a frame carries, with its datagram.
func (f sniffed) icmp() (ip.IPv4, ip.ICMP, bool) {
	d, ok := f.datagram()
	if !ok || d.Protocol() != ip.ProtocolICMP || d.IsFragment() {
		return nil, nil, false
	}
	m := ip.ICMP(d.Payload())
	if m.CheckNoChecksum() != nil {
		return nil, nil, false
	}
	return d, m, true
}

// healthy checks that the stack still serves: ping, a TCP echo of 64 KiB
// byte for byte, and an HTTP GET.
func (k *hostile) healthy(t *testing.T, after string) {
	t.Helper()
	k.ping(t, 3, 56)
	c, err := k.dialStack(7)
	if err != nil {
		t.Fatalf("after %s: dial echo: %v (counters %v)", after, err, nonZero(k.st.Counters()))
	}
	defer c.Close()
	if err := echoBulk(c, random(64<<10, 7)); err != nil {
		t.Fatalf("after %s: echo: %v (counters %v)", after, err, nonZero(k.st.Counters()))
	}
	if err := k.httpGet(); err != nil {
		t.Fatalf("after %s: HTTP: %v (counters %v)", after, err, nonZero(k.st.Counters()))
	}
}

// httpGet fetches / from the stack's HTTP server and checks the answer.
// The client closes first, so the stack's side does not linger in
// TIME-WAIT (tests count the stack's connections).
func (k *hostile) httpGet() error {
	c, err := k.dialStack(80)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: netspace\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || string(body) != "hello\n" {
		return fmt.Errorf("answer %s %q", resp.Status, body)
	}
	return nil
}

// delta is after[name] - before[name] (counters, or gauges read as such).
func delta(before, after map[string]uint64, name string) int64 {
	return int64(after[name] - before[name])
}

// waitCounters polls the stack's counters until each named one has moved
// by at least its minimum since before, and returns them; it fails the
// test after d saying which did not.
func (k *hostile) waitCounters(t *testing.T, d time.Duration, before map[string]uint64, want map[string]int64) map[string]uint64 {
	t.Helper()
	var now map[string]uint64
	waitFor(t, d, func() bool {
		now = k.st.Counters()
		for name, n := range want {
			if _, ok := now[name]; !ok || delta(before, now, name) < n {
				return false
			}
		}
		return true
	}, func() string {
		var b strings.Builder
		for name, n := range want {
			if _, ok := now[name]; !ok {
				fmt.Fprintf(&b, " %s: no such counter;", name)
			} else if got := delta(before, now, name); got < n {
				fmt.Fprintf(&b, " %s moved by %d, want ≥ %d;", name, got, n)
			}
		}
		return "counters:" + b.String() + fmt.Sprintf(" (now %v)", nonZero(now))
	})
	return now
}

// quiet waits until the stack has handled every frame sent to it (the
// link's received count stands still for 100 ms), bounded by d.
func (k *hostile) quiet(d time.Duration) {
	deadline := time.Now().Add(d)
	last := k.link.Stats().RxFrames
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n := k.link.Stats().RxFrames
		if n == last {
			return
		}
		last = n
	}
}

// liveHeap collects garbage and returns the bytes of live heap objects.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// heapWatch samples the heap (live and garbage not yet collected) until
// stopped and keeps the peak.
type heapWatch struct {
	stop, done chan struct{}
	peak       uint64
}

func watchHeap(every time.Duration) *heapWatch {
	h := &heapWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			h.peak = max(h.peak, m.HeapAlloc)
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return h
}

// Stop ends the sampling and returns the peak heap.
func (h *heapWatch) Stop() uint64 {
	close(h.stop)
	<-h.done
	return h.peak
}

// rss returns the process's resident set size and its peak (VmHWM).
func rss() (now, peak uint64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 2 {
			continue
		}
		v, _ := strconv.ParseUint(fs[1], 10, 64)
		switch fs[0] {
		case "VmRSS:":
			now = v << 10
		case "VmHWM:":
			peak = v << 10
		}
	}
	return now, peak
}

// resetPeakRSS resets the process's VmHWM to its current RSS (Linux
// clear_refs, value 5); without the right to, the peak stays the
// process's.
func resetPeakRSS() { os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// mib formats bytes as MiB.
func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// figure logs one figure for docs/reliability.md.
func figure(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("FIGURE %s: %s", t.Name(), fmt.Sprintf(format, args...))
}
