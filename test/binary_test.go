package test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"netspace/test/nettest"
)

// buildNetspace builds cmd/netspace into a temporary directory.
func buildNetspace(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "netspace")
	out, err := exec.Command("go", "build", "-o", bin, "netspace/cmd/netspace").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestBinaryContract runs `netspace run` as ../shared/netbench starts a
// stack: on an existing tap0, with --tap/--addr/--gateway, answering ping
// and UDP echo, and exiting promptly and cleanly on SIGTERM.
func TestBinaryContract(t *testing.T) {
	nettest.RequireRoot(t)
	bin := buildNetspace(t)
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", kernelCIDR)
	// ip netns exec execs the program, so signals reach netspace itself.
	cmd := exec.Command("ip", "netns", "exec", ns.Name(), bin, "run",
		"--tap", "tap0", "--addr", stackAddr+"/24", "--gateway", "192.0.2.1")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	// The stack answers within the harness's start timeout (10 s).
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := ns.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", stackAddr)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no ping reply within 10 s: %v\n%s", err, out.String())
		}
	}
	ns.MustRun(t, "ping", "-n", "-c", "5", "-i", "0.05", "-W", "2", stackAddr)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", exitErr, out.String())
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("still running 3 s after SIGTERM\n%s", out.String())
	}
	if !strings.Contains(out.String(), "netspace is up") || !strings.Contains(out.String(), "stopping") {
		t.Fatalf("log lacks start or stop:\n%s", out.String())
	}
}

// syncBuffer is a strings.Builder safe for a writing process and a
// reading test.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
