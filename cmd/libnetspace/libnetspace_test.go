//go:build cgo

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"netspace/test/nettest"
)

// The library is built once per test run, into a directory removed at
// the end.
var built struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	if left := nettest.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "libnetspace: namespaces left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// requireCC skips the test when there is no C compiler.
func requireCC(t *testing.T) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	path, err := exec.LookPath(cc)
	if err != nil {
		t.Skipf("no C compiler (%s): the C tests of libnetspace need gcc; skipping %s", cc, t.Name())
	}
	return path
}

// goTool returns the go command: from PATH, $GOROOT, or /usr/local/go.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	for _, p := range []string{filepath.Join(os.Getenv("GOROOT"), "bin", "go"), "/usr/local/go/bin/go"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}

// library builds libnetspace.so (once) and returns its directory.
func library(t *testing.T) string {
	t.Helper()
	requireCC(t)
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "libnetspace-test-")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goTool(), "build", "-buildmode=c-shared", "-o", filepath.Join(dir, "libnetspace.so"), ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build -buildmode=c-shared: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

// compile builds the C program testdata/NAME.c against netspace.h, linked
// with libnetspace if link, and returns its path.
func compile(t *testing.T, name string, link bool) string {
	t.Helper()
	cc := requireCC(t)
	dir := library(t)
	out := filepath.Join(dir, name)
	args := []string{"-O1", "-Wall", "-Wextra", "-Werror", "-I../../include", "-o", out, filepath.Join("testdata", name+".c"), "-lpthread"}
	if link {
		args = append(args, "-L"+dir, "-lnetspace", "-Wl,-rpath,"+dir)
	} else {
		args = append(args, "-ldl")
	}
	if b, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, b)
	}
	return out
}

// TestPacketdrillInterface runs pdtest, which loads the library as
// packetdrill does and plays scripted exchanges on the injection link
// and the test clock: passive and active opens (blocking, non-blocking,
// refused), data both ways, delayed ACK, retransmission after the RTO,
// FIN in both orders, RST on a closed port, both profiles, re-init.
func TestPacketdrillInterface(t *testing.T) {
	prog := compile(t, "pdtest", false)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog, filepath.Join(library(t), "libnetspace.so")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdtest: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("pdtest: all checks passed")) {
		t.Fatalf("pdtest did not finish:\n%s", out)
	}
}

// TestCErrors runs errtest, linked with -lnetspace: bad input to the C
// API gets errno values, never a crash, and descriptors are real.
func TestCErrors(t *testing.T) {
	prog := compile(t, "errtest", true)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, prog).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("errtest: all checks passed")) {
		t.Fatalf("errtest: %v\n%s", err, out)
	}
}

// echoCheck writes data to c while reading the echo, half-closes, and
// checks that exactly data came back.
func echoCheck(c *net.TCPConn, data []byte) error {
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		errc <- err
	}()
	c.SetReadDeadline(time.Now().Add(time.Minute))
	h := sha256.New()
	n, err := io.Copy(h, c)
	if err != nil {
		return fmt.Errorf("read after %d bytes: %w", n, err)
	}
	if werr := <-errc; werr != nil {
		return fmt.Errorf("write: %w", werr)
	}
	if want := sha256.Sum256(data); n != int64(len(data)) || !bytes.Equal(h.Sum(nil), want[:]) {
		return fmt.Errorf("echo of %d bytes came back as %d different bytes", len(data), n)
	}
	return nil
}

// TestCEchoServerOverTAP runs echo_server, a C program linked against
// the library, on a TAP device in a namespace of its own, and connects
// to it from the Linux kernel three times at once.
func TestCEchoServerOverTAP(t *testing.T) {
	ns := nettest.NewNamespace(t)
	prog := compile(t, "echo_server", true)
	ns.CreateTAP("nstap0", "192.0.2.1/24")
	const conns = 3
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name(), prog,
		"tap=nstap0,local=192.0.2.2/24,gateway=192.0.2.1", "7", fmt.Sprint(conns))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		cmd.Wait()
		t.Fatalf("echo_server did not start: %q\n%s", lines.Text(), stderr.String())
	}
	var wg sync.WaitGroup
	errs := make([]error, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			data := make([]byte, 200_000+i*12_345)
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			errs[i] = ns.Do(func() error {
				d := net.Dialer{Timeout: 10 * time.Second}
				c, err := d.Dial("tcp4", "192.0.2.2:7")
				if err != nil {
					return err
				}
				defer c.Close()
				return echoCheck(c.(*net.TCPConn), data)
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("connection %d: %v", i, err)
		}
	}
	var rest bytes.Buffer
	io.Copy(&rest, stdout)
	if err := cmd.Wait(); err != nil || !strings.Contains(rest.String(), fmt.Sprintf("served %d", conns)) {
		t.Fatalf("echo_server: %v; stdout %q\n%s", err, rest.String(), stderr.String())
	}
}

// TestCEchoClientOverTAP runs echo_client, a C program linked against
// the library, on a TAP device in a namespace of its own, against an
// echo server of the Linux kernel's.
func TestCEchoClientOverTAP(t *testing.T) {
	ns := nettest.NewNamespace(t)
	prog := compile(t, "echo_client", true)
	ns.CreateTAP("nstap0", "192.0.2.1/24")
	var ln net.Listener
	if err := ns.Do(func() (err error) {
		ln, err = net.Listen("tcp4", "192.0.2.1:9000")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Minute))
		_, err = io.Copy(c, c)
		served <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name(), prog,
		"tap=nstap0,local=192.0.2.2/24,gateway=192.0.2.1", "192.0.2.1", "9000", "300000").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "echoed 300000 bytes") {
		t.Fatalf("echo_client: %v\n%s", err, out)
	}
	if err := <-served; err != nil {
		t.Fatalf("kernel echo server: %v", err)
	}
}
