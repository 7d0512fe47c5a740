package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"netspace/client"
	"netspace/relay/wire"
	"netspace/test/nettest"
)

// The actor link across processes: `netspace run --listen-actors` in a
// test namespace, and examples/remote-echo as a separate, unprivileged
// kind of process serving echo on the stack through it.

// heartbeat is the stack's --actors-heartbeat in these tests; bound is
// how long fate sharing may take to reach the kernel after a client dies.
const (
	heartbeat = time.Second
	bound     = heartbeat + 2*time.Second
)

// buildBin builds a main package into a temporary directory.
func buildBin(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	out, err := exec.Command("go", "build", "-o", bin, pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// linkStack is a netspace process on a TAP device in a fresh namespace,
// with the actor link on a unix socket.
type linkStack struct {
	ns      *nettest.Namespace
	sock    string
	echoBin string
	tokens  map[string]string // credential → token file
}

func newLinkStack(t *testing.T) *linkStack {
	nettest.RequireRoot(t)
	netspaceBin := buildBin(t, "netspace/cmd/netspace")
	echoBin := buildBin(t, "netspace/examples/remote-echo")
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", kernelCIDR)
	dir := t.TempDir()
	ls := &linkStack{ns: ns, sock: filepath.Join(dir, "link.sock"), echoBin: echoBin, tokens: map[string]string{}}
	// Two credentials: echo may serve ports 7000–7099 only; "wrong" is a
	// token the stack does not know.
	creds := map[string]string{"echo": "echo-token-5f0c1e9a77d2", "wrong": "not-a-known-token-0000"}
	for name, tok := range creds {
		p := filepath.Join(dir, name+".token")
		if err := os.WriteFile(p, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		ls.tokens[name] = p
	}
	auth := filepath.Join(dir, "auth")
	if err := os.WriteFile(auth, []byte("# name token permissions\necho "+creds["echo"]+" tcp-listen:7000..7099\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ns.Start(netspaceBin, "run", "--tap", "tap0", "--addr", stackAddr+"/24", "--gateway", "192.0.2.1",
		"--listen-actors", "unix:"+ls.sock, "--actors-auth", auth, "--actors-heartbeat", heartbeat.String())
	waitFor(t, 15*time.Second, func() bool { _, err := os.Stat(ls.sock); return err == nil },
		func() string { return "the stack's actor link socket did not appear" })
	return ls
}

// proc is a client process.
type proc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	lines  chan string
	exited chan struct{}
	err    error
}

// startEcho runs remote-echo with the given credential on port.
func (ls *linkStack) startEcho(t *testing.T, cred string, port int) *proc {
	t.Helper()
	p := &proc{out: new(syncBuffer), lines: make(chan string, 16), exited: make(chan struct{})}
	p.cmd = exec.Command(ls.echoBin, "--stack", "unix:"+ls.sock, "--token-file", ls.tokens[cred], "--port", strconv.Itoa(port))
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.out.Write([]byte(sc.Text() + "\n"))
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("remote-echo %s:%d output:\n%s", cred, port, p.out.String())
		}
	})
	return p
}

// serving waits for the "serving echo" line.
func (p *proc) serving(t *testing.T) {
	t.Helper()
	select {
	case l := <-p.lines:
		if !strings.HasPrefix(l, "serving echo on port") {
			t.Fatalf("remote-echo said %q", l)
		}
	case <-p.exited:
		t.Fatalf("remote-echo exited: %v\n%s", p.err, p.out.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("remote-echo did not start serving\n%s", p.out.String())
	}
}

// refused waits for the process to exit with an error that says why.
func (p *proc) refused(t *testing.T, want string) {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("remote-echo was not refused\n%s", p.out.String())
	}
	if p.err == nil || !strings.Contains(p.out.String(), want) {
		t.Fatalf("remote-echo exit %v, output %q; want a failure saying %q", p.err, p.out.String(), want)
	}
}

// dial connects from the kernel's side, in the namespace.
func (ls *linkStack) dial(port int) (*net.TCPConn, error) {
	var c *net.TCPConn
	err := ls.ns.Do(func() error {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err := d.Dial("tcp4", net.JoinHostPort(stackAddr, strconv.Itoa(port)))
		if err == nil {
			c = conn.(*net.TCPConn)
		}
		return err
	})
	return c, err
}

// pingPong checks one small echo round trip.
func pingPong(c *net.TCPConn, msg []byte) error {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if string(got) != string(msg) {
		return fmt.Errorf("echoed %q, want %q", got, msg)
	}
	return nil
}

// TestRemoteEchoTwoProcesses is issue 10's two-process test: the kernel
// transfers 16 MiB through a remote echo service byte-exact; SIGKILL of
// the service's process resets its connection and closes its port within
// the heartbeat bound; a restarted service serves again.
func TestRemoteEchoTwoProcesses(t *testing.T) {
	ls := newLinkStack(t)
	const port = 7007
	p := ls.startEcho(t, "echo", port)
	p.serving(t)

	c, err := ls.dial(port)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := echoBulk(c, random(16<<20, 10)); err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	c.Close()
	t.Logf("16 MiB each way through the remote echo in %v (%.0f Mbit/s each way)", el, 16*8*1.048576/el.Seconds())

	idle, err := ls.dial(port)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if err := pingPong(idle, []byte("before the kill")); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// The open connection is reset...
	idle.SetReadDeadline(killed.Add(bound))
	_, err = idle.Read(make([]byte, 16))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read on the connection of a killed service: %v, want ECONNRESET within %v", err, bound)
	}
	resetAfter := time.Since(killed)
	// ...and the port is closed.
	var refusedAfter time.Duration
	waitFor(t, bound, func() bool {
		c, err := ls.dial(port)
		if err == nil {
			c.Close()
			return false
		}
		refusedAfter = time.Since(killed)
		return errors.Is(err, syscall.ECONNREFUSED)
	}, func() string { return fmt.Sprintf("port %d still open %v after the service was killed", port, bound) })
	t.Logf("after SIGKILL: connection reset in %v, port refused in %v (heartbeat %v)",
		resetAfter.Round(time.Millisecond), refusedAfter.Round(time.Millisecond), heartbeat)

	p2 := ls.startEcho(t, "echo", port)
	p2.serving(t)
	c2, err := ls.dial(port)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := echoBulk(c2, random(1<<20, 11)); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

// TestRemoteRefusals: a client with a wrong token, and one listening
// outside its credential's ports, are refused, and nothing they asked for
// reaches the stack: the port stays closed.
func TestRemoteRefusals(t *testing.T) {
	ls := newLinkStack(t)
	ls.startEcho(t, "wrong", 7010).refused(t, "refused the token")
	if c, err := ls.dial(7010); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("port 7010 after a wrong token: %v, want connection refused", err)
	}
	ls.startEcho(t, "echo", 9000).refused(t, "not allowed")
	if c, err := ls.dial(9000); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("port 9000 outside the allow-list: %v, want connection refused", err)
	}
	// The same credential on its own ports works, on the same stack.
	ls.startEcho(t, "echo", 7011).serving(t)
	c, err := ls.dial(7011)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := pingPong(c, []byte("allowed")); err != nil {
		t.Fatal(err)
	}
}

// TestRemoteEchoVersusInProcess measures the remote echo against the
// stack's own echo service (port 7, in the stack's process) on the same
// stack: bulk throughput and small round-trip latency, and logs the
// ratios (the figures quoted in the README).
func TestRemoteEchoVersusInProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement; skipped with -short")
	}
	ls := newLinkStack(t)
	const remotePort = 7020
	ls.startEcho(t, "echo", remotePort).serving(t)
	type result struct{ mbps, rttMedian float64 }
	measure := func(port int) result {
		c, err := ls.dial(port)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := echoBulk(c, random(16<<20, 20)); err != nil {
			t.Fatalf("port %d: %v", port, err)
		}
		mbps := 16 * 8 * 1.048576 / time.Since(start).Seconds()
		c.Close()
		c, err = ls.dial(port)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetNoDelay(true)
		rtts := make([]float64, 0, 300)
		msg := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
		for i := 0; i < 300; i++ {
			s := time.Now()
			if err := pingPong(c, msg); err != nil {
				t.Fatalf("port %d round trip %d: %v", port, i, err)
			}
			rtts = append(rtts, float64(time.Since(s).Microseconds()))
		}
		sort.Float64s(rtts)
		return result{mbps, rtts[len(rtts)/2]}
	}
	local := measure(7)
	remote := measure(remotePort)
	t.Logf("in-process echo: %.0f Mbit/s each way, median 64-byte round trip %.0f µs", local.mbps, local.rttMedian)
	t.Logf("remote echo:     %.0f Mbit/s each way, median 64-byte round trip %.0f µs", remote.mbps, remote.rttMedian)
	t.Logf("remote/in-process: throughput %.2f×, round-trip latency %.2f×", remote.mbps/local.mbps, remote.rttMedian/local.rttMedian)
	if remote.mbps <= 0 || remote.rttMedian <= 0 {
		t.Fatal("no measurement")
	}
}

// TestRemoteFrozenClientTimesOut: a client that stops answering without
// its connection dropping (SIGSTOP: the process is frozen, its sockets
// stay open) is given up by the heartbeat: its connection is reset and
// its port closed within the bound.
func TestRemoteFrozenClientTimesOut(t *testing.T) {
	ls := newLinkStack(t)
	const port = 7030
	p := ls.startEcho(t, "echo", port)
	p.serving(t)
	c, err := ls.dial(port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := pingPong(c, []byte("before the freeze")); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer p.cmd.Process.Signal(syscall.SIGCONT)
	frozen := time.Now()
	c.SetReadDeadline(frozen.Add(bound))
	_, err = c.Read(make([]byte, 16))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read on the connection of a frozen service: %v, want ECONNRESET within %v", err, bound)
	}
	after := time.Since(frozen)
	if after < heartbeat/2 {
		t.Fatalf("reset %v after the freeze: sooner than the heartbeat could tell", after)
	}
	waitFor(t, bound, func() bool {
		c, err := ls.dial(port)
		if err == nil {
			c.Close()
		}
		return errors.Is(err, syscall.ECONNREFUSED)
	}, func() string { return fmt.Sprintf("port %d still open after the heartbeat", port) })
	t.Logf("frozen client: connection reset %v after SIGSTOP (heartbeat %v)", after.Round(time.Millisecond), heartbeat)
}

// TestRemoteSlowReaderClosesWindow: this test's process is the remote
// client, with a net.Listener on the stack through the link. A conn that
// is not read stalls the kernel's writer (the receive window closes: the
// conn reports consumed only what it reads, over the link), with a
// bounded amount in flight; reading it then brings every byte, in order.
func TestRemoteSlowReaderClosesWindow(t *testing.T) {
	ls := newLinkStack(t)
	tok, err := client.TokenFile(ls.tokens["echo"])
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "unix:"+ls.sock, client.Credentials{Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, err := c.Net().Listen(7040)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if sc, err := l.Accept(); err == nil {
			accepted <- sc
		}
	}()
	k, err := ls.dial(7040)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	var sc net.Conn
	select {
	case sc = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
	}
	defer sc.Close()
	const total = 64 << 20
	data := random(total, 40)
	var written atomic.Int64
	wdone := make(chan error, 1)
	go func() {
		for off := 0; off < total; off += 64 << 10 {
			n, err := k.Write(data[off : off+64<<10])
			written.Add(int64(n))
			if err != nil {
				wdone <- err
				return
			}
		}
		wdone <- k.CloseWrite()
	}()
	// The writer stalls: nothing more is accepted for a while.
	var last int64 = -1
	stalled := false
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		n := written.Load()
		if n == last {
			stalled = true
			break
		}
		last = n
	}
	if !stalled || last >= total/2 {
		t.Fatalf("the kernel's writer did not stall against an unread conn (%d of %d bytes written)", last, total)
	}
	t.Logf("unread conn: the kernel's writer stalled after %.1f MiB", float64(last)/(1<<20))
	// Reading releases the window; everything arrives in order.
	sc.SetReadDeadline(time.Now().Add(2 * time.Minute))
	h := sha256.New()
	n, err := io.Copy(h, sc)
	if err != nil || n != total {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	if want := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("the data read differs from the data written")
	}
	if err := <-wdone; err != nil {
		t.Fatalf("writer: %v", err)
	}
}

// TestRemoteHTTP: examples/remote-http serves net/http on the stack from
// another process; the kernel's curl fetches through it.
func TestRemoteHTTP(t *testing.T) {
	ls := newLinkStack(t)
	bin := buildBin(t, "netspace/examples/remote-http")
	cmd := exec.Command(bin, "--stack", "unix:"+ls.sock, "--token-file", ls.tokens["echo"], "--port", "7050")
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, 15*time.Second, func() bool { return strings.Contains(out.String(), "serving http") },
		func() string { return "remote-http did not start: " + out.String() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got, err := ls.ns.Run(ctx, "curl", "-s", "--max-time", "20", "http://"+stackAddr+":7050/")
	if err != nil || string(got) != "hello from another process\n" {
		t.Fatalf("curl /: %q %v\n%s", got, err, out.String())
	}
	got, err = ls.ns.Run(ctx, "curl", "-s", "--max-time", "20", "-o", "/dev/null", "-w", "%{size_download}",
		"http://"+stackAddr+":7050/echo?n=5000000")
	if err != nil || string(got) != "5000000" {
		t.Fatalf("curl /echo: %q %v\n%s", got, err, out.String())
	}
}

// TestRemoteTCPLinkBinary runs the link over TCP with TLS, as between
// machines: the stack listens on the namespace's loopback with
// --actors-cert/--actors-key, and remote-echo, run in the namespace too,
// trusts the certificate with --ca.
func TestRemoteTCPLinkBinary(t *testing.T) {
	nettest.RequireRoot(t)
	netspaceBin := buildBin(t, "netspace/cmd/netspace")
	echoBin := buildBin(t, "netspace/examples/remote-echo")
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", kernelCIDR)
	dir := t.TempDir()
	certPEM, keyPEM, err := wire.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key, tok := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "token")
	for p, b := range map[string][]byte{cert: certPEM, key: keyPEM, tok: []byte("tcp-link-token-0123456789\n")} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const link = "tcp:127.0.0.1:7400"
	ns.Start(netspaceBin, "run", "--tap", "tap0", "--addr", stackAddr+"/24",
		"--listen-actors", link, "--actors-token", tok, "--actors-cert", cert, "--actors-key", key)
	// The link is up once its port takes connections.
	waitFor(t, 20*time.Second, func() bool {
		return ns.Do(func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:7400", time.Second)
			if err == nil {
				c.Close()
			}
			return err
		}) == nil
	}, func() string { return "the stack's TCP link did not open" })
	out := new(syncBuffer)
	cmd := exec.Command("ip", "netns", "exec", ns.Name(), echoBin, "--stack", link, "--token-file", tok,
		"--ca", cert, "--port", "7401")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitFor(t, 15*time.Second, func() bool { return strings.Contains(out.String(), "serving echo") },
		func() string { return "remote-echo over TCP did not serve: " + out.String() })
	ls := &linkStack{ns: ns}
	c, err := ls.dial(7401)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := echoBulk(c, random(4<<20, 41)); err != nil {
		t.Fatal(err)
	}
}
