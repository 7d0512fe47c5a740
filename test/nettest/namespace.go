package nettest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Prefix starts the name of every namespace NewNamespace creates.
const Prefix = "ns-netspace-"

// commandTimeout bounds MustRun and the commands run at cleanup.
const commandTimeout = 30 * time.Second

// created records the namespaces this process made, for Leftovers.
var created struct {
	sync.Mutex
	names []string
}

// RequireRoot skips the test, saying why, unless it runs as root on a
// machine with /dev/net/tun and the ip command (iproute2).
func RequireRoot(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "not root")
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		missing = append(missing, "no /dev/net/tun")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		missing = append(missing, "no ip command (iproute2)")
	}
	if len(missing) > 0 {
		t.Skipf("needs root, /dev/net/tun and ip: %s: skipping %s", strings.Join(missing, ", "), t.Name())
	}
}

// Namespace is a network namespace owned by one test.
type Namespace struct {
	t    testing.TB
	name string
}

// NewNamespace creates a network namespace with a unique name starting with
// Prefix, brings its loopback interface up, and registers its deletion with
// t.Cleanup. It skips the test when RequireRoot would, or when the machine
// does not allow creating namespaces.
func NewNamespace(t testing.TB) *Namespace {
	t.Helper()
	RequireRoot(t)
	var id [4]byte
	if _, err := rand.Read(id[:]); err != nil {
		t.Fatalf("nettest: random namespace name: %v", err)
	}
	ns := &Namespace{t: t, name: Prefix + hex.EncodeToString(id[:])}
	out, err := command("ip", "netns", "add", ns.name)
	if err != nil {
		if bytes.Contains(out, []byte("Operation not permitted")) {
			t.Skipf("cannot create network namespaces here (%s): skipping %s", bytes.TrimSpace(out), t.Name())
		}
		t.Fatalf("nettest: %v", err)
	}
	created.Lock()
	created.names = append(created.names, ns.name)
	created.Unlock()
	t.Cleanup(func() {
		if _, err := command("ip", "netns", "del", ns.name); err != nil {
			t.Errorf("nettest: deleting namespace: %v", err)
		}
	})
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	return ns
}

// Name is the namespace's name, as `ip netns` knows it.
func (ns *Namespace) Name() string { return ns.name }

// Run runs argv inside the namespace (`ip netns exec NAME argv...`) and
// returns its combined output. The error includes the command line and the
// output.
func (ns *Namespace) Run(ctx context.Context, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("nettest: Run with no command")
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.name}, argv...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("in %s: %s: %w: %s", ns.name, strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// MustRun is Run with a timeout of 30 s that fails the test on error.
func (ns *Namespace) MustRun(t testing.TB, argv ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := ns.Run(ctx, argv...)
	if err != nil {
		t.Fatalf("nettest: %v", err)
	}
	return out
}

// Start starts argv in the background inside the namespace. At cleanup the
// process is killed and waited for; its output is logged if the test
// failed. Start fails the test if the command cannot start, so call it from
// the test's goroutine.
func (ns *Namespace) Start(argv ...string) *exec.Cmd {
	ns.t.Helper()
	if len(argv) == 0 {
		ns.t.Fatal("nettest: Start with no command")
	}
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns.name}, argv...)...)
	out := new(syncBuffer)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		ns.t.Fatalf("nettest: in %s: start %s: %v", ns.name, strings.Join(argv, " "), err)
	}
	ns.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if ns.t.Failed() {
			ns.t.Logf("nettest: output of %s:\n%s", strings.Join(argv, " "), out.String())
		}
	})
	return cmd
}

// Do runs f on an OS thread switched into the namespace, and returns its
// error. Sockets and devices that f opens belong to the namespace; so do
// goroutines f starts only if they do not need the namespace themselves —
// they run on other threads, outside it. f runs on another goroutine than
// the caller: it must report failure through its error, not t.Fatal.
//
// The thread is switched back before it is released; if that fails the
// thread is discarded rather than reused.
func (ns *Namespace) Do(f func() error) error {
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// No UnlockOSThread unless the switch back succeeds: a goroutine
		// that exits while locked takes its thread with it.
		back, err := enter(ns.name)
		if err != nil {
			res <- err
			return
		}
		ferr := f()
		if err := unix.Setns(back, unix.CLONE_NEWNET); err != nil {
			unix.Close(back)
			res <- errors.Join(ferr, fmt.Errorf("nettest: leaving %s: %w", ns.name, err))
			return
		}
		unix.Close(back)
		runtime.UnlockOSThread()
		res <- ferr
	}()
	return <-res
}

// enter switches the calling (locked) thread into the named namespace and
// returns a descriptor of the namespace it was in.
func enter(name string) (int, error) {
	back, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("nettest: current namespace: %w", err)
	}
	target, err := unix.Open("/run/netns/"+name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(back)
		return -1, fmt.Errorf("nettest: namespace %s: %w", name, err)
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		unix.Close(back)
		return -1, fmt.Errorf("nettest: entering %s: %w", name, err)
	}
	return back, nil
}

// Leftovers returns the namespaces this process created that still exist.
// Call it from TestMain after m.Run to prove that every test cleaned up.
func Leftovers() []string {
	created.Lock()
	defer created.Unlock()
	var left []string
	for _, name := range created.names {
		if _, err := os.Stat("/run/netns/" + name); err == nil {
			left = append(left, name)
		}
	}
	return left
}

// command runs a command outside any namespace, bounded by commandTimeout.
func command(argv ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// maxOutput bounds the output kept of a background process.
const maxOutput = 1 << 20

// syncBuffer keeps the first maxOutput bytes written by a process's stdout
// and stderr, counting the rest.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
}

// Write implements io.Writer; it never fails.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := max(maxOutput-b.buf.Len(), 0)
	if len(p) > room {
		b.dropped += len(p) - room
		b.buf.Write(p[:room])
		return len(p), nil
	}
	return b.buf.Write(p)
}

// String returns what was kept, with a note of what was not.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped > 0 {
		return fmt.Sprintf("%s\n[%d more bytes not kept]", b.buf.String(), b.dropped)
	}
	return b.buf.String()
}
