package test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"netspace/drivers"
)

func TestKernelCurl(t *testing.T) {
	k := newKernelStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Two requests on one connection (keep-alive).
	out, err := k.ns.Run(ctx, "curl", "-s", "--max-time", "10", "http://"+stackAddr+"/", "http://"+stackAddr+"/again")
	if err != nil {
		t.Fatalf("curl: %v", err)
	}
	if string(out) != "hello\nhello\n" {
		t.Fatalf("curl got %q", out)
	}
}

// random returns n seeded pseudo-random bytes.
func random(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 99))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// dialStack dials the stack from the namespace (the socket lives there).
func (k *kernelStack) dialStack(port int) (*net.TCPConn, error) {
	var c *net.TCPConn
	err := k.ns.Do(func() error {
		d := net.Dialer{Timeout: 10 * time.Second}
		conn, err := d.Dial("tcp4", net.JoinHostPort(stackAddr, strconv.Itoa(port)))
		if err == nil {
			c = conn.(*net.TCPConn)
		}
		return err
	})
	return c, err
}

// echoBulk writes data to an echo connection while reading it back, and
// checks the echo byte for byte.
func echoBulk(c *net.TCPConn, data []byte) error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		errc <- err
	}()
	c.SetReadDeadline(time.Now().Add(5 * time.Minute))
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		return fmt.Errorf("read after %d bytes: %w", n, err)
	}
	if werr := <-errc; werr != nil {
		return fmt.Errorf("write: %w", werr)
	}
	if want := sha256.Sum256(data); n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("echo of %d bytes came back as %d bytes, hash match %v", len(data), n, bytes.Equal(h.Sum(nil), want[:]))
	}
	return nil
}

func TestKernelEcho64MiBUnderLoss(t *testing.T) {
	k := newKernelStackFaults(t, drivers.LinkFaults{Drop: 0.01})
	c, err := k.dialStack(7)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	if err := echoBulk(c, random(64<<20, 1)); err != nil {
		t.Fatalf("%v\ncounters %v", err, nonZero(k.st.Counters()))
	}
	t.Logf("64 MiB each way through echo at 1%% loss both ways in %v (%v)", time.Since(start), nonZero(k.st.Counters()))
}

func TestKernelThousandConnections(t *testing.T) {
	k := newKernelStack(t)
	const n = 1000
	conns := make([]*net.TCPConn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < n; i++ {
		c, err := k.dialStack(7)
		if err != nil {
			t.Fatalf("connection %d: %v (counters %v)", i, err, nonZero(k.st.Counters()))
		}
		conns = append(conns, c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Add(1)
		go func(i int, c *net.TCPConn) {
			defer wg.Done()
			if err := echoBulk(c, random(1000+i, uint64(i))); err != nil {
				errs <- fmt.Errorf("connection %d: %w", i, err)
			}
		}(i, c)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := k.st.Counters()["tcp.opened"]; got < n {
		t.Fatalf("the stack opened %d connections", got)
	}
}

// kernelListener listens in the namespace on 192.0.2.1:port and hands
// each accepted connection to serve.
func (k *kernelStack) kernelListener(t *testing.T, port int, serve func(*net.TCPConn)) {
	var l net.Listener
	if err := k.ns.Do(func() error {
		var err error
		l, err = net.Listen("tcp4", net.JoinHostPort("192.0.2.1", strconv.Itoa(port)))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serve(c.(*net.TCPConn))
		}
	}()
}

func TestKernelDialOutAndHalfClose(t *testing.T) {
	k := newKernelStack(t)
	// The kernel reads everything, then answers with its length and closes.
	k.kernelListener(t, 8080, func(c *net.TCPConn) {
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "got %d\n", n)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := k.st.Net.Dial(ctx, netip.MustParseAddrPort("192.0.2.1:8080"))
	if err != nil {
		t.Fatalf("dial out: %v (counters %v)", err, nonZero(k.st.Counters()))
	}
	defer c.Close()
	data := random(3<<20, 5)
	if _, err := c.Write(data); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite() // our half-close: the kernel's io.Copy ends
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	reply, err := io.ReadAll(c) // until the kernel's FIN
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	if want := fmt.Sprintf("got %d\n", len(data)); string(reply) != want {
		t.Fatalf("kernel replied %q, want %q", reply, want)
	}
	if c.LocalAddr().(*net.TCPAddr).Port != 0 && !strings.HasPrefix(c.RemoteAddr().String(), "192.0.2.1:") {
		t.Fatalf("addresses %v %v", c.LocalAddr(), c.RemoteAddr())
	}
}

func TestKernelHalfCloseToEcho(t *testing.T) {
	k := newKernelStack(t)
	c, err := k.dialStack(7)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The kernel half-closes; the echo server sends everything back, then
	// closes its side: the kernel reads the echo and EOF.
	if err := echoBulk(c, []byte("half-close me\n")); err != nil {
		t.Fatal(err)
	}
}

func TestKernelReset(t *testing.T) {
	k := newKernelStack(t)
	// The kernel resets a connection to the stack: SO_LINGER 0 and close.
	c, err := k.dialStack(9)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("some data"))
	c.SetLinger(0)
	c.Close()
	// A kernel server resets the stack's connection.
	k.kernelListener(t, 8081, func(c *net.TCPConn) {
		buf := make([]byte, 10)
		io.ReadFull(c, buf)
		c.SetLinger(0)
		c.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := k.st.Net.Dial(ctx, netip.MustParseAddrPort("192.0.2.1:8081"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	d.Write([]byte("0123456789"))
	d.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err = io.ReadAll(d)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the kernel's reset: %v, want ECONNRESET", err)
	}
	// And the stack's listener connection was torn down by the first RST.
	waitFor(t, 10*time.Second, func() bool { return k.st.Counters()["tcp.active"] <= 1 },
		func() string { return fmt.Sprintf("connections left after resets: %v", nonZero(k.st.Counters())) })
}

// waitFor polls cond until it holds, failing with msg() after d.
func waitFor(t *testing.T, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal(msg())
		}
	}
}
