package nettest

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if left := Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "nettest: namespaces left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// interfaceNames lists the interfaces visible to the calling thread.
func interfaceNames() ([]string, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ifs))
	for i, ifi := range ifs {
		names[i] = ifi.Name
	}
	slices.Sort(names)
	return names, nil
}

func TestNamespaceLifecycle(t *testing.T) {
	RequireRoot(t)
	var name string
	t.Run("inside", func(t *testing.T) {
		ns := NewNamespace(t)
		name = ns.Name()
		if !strings.HasPrefix(name, Prefix) {
			t.Fatalf("name %q lacks prefix %q", name, Prefix)
		}
		out, err := command("ip", "netns", "list")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), name) {
			t.Fatalf("ip netns list does not show %s:\n%s", name, out)
		}

		ns.CreateVeth("veth-a", "veth-b")
		ns.CreateTAP("tap0", "192.0.2.1/24")

		var inside []string
		if err := ns.Do(func() (err error) {
			inside, err = interfaceNames()
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if want := []string{"lo", "tap0", "veth-a", "veth-b"}; !slices.Equal(inside, want) {
			t.Errorf("interfaces inside the namespace: %v, want %v", inside, want)
		}

		// The calling goroutine's thread never left the host namespace.
		outside, err := interfaceNames()
		if err != nil {
			t.Fatal(err)
		}
		if slices.Contains(outside, "veth-a") || slices.Contains(outside, "tap0") {
			t.Errorf("devices of the namespace visible outside it: %v", outside)
		}

		// Run executes inside: lo is up and the TAP has its address.
		out = ns.MustRun(t, "ip", "-o", "addr", "show", "dev", "tap0")
		if !strings.Contains(string(out), "192.0.2.1/24") {
			t.Errorf("tap0 lacks 192.0.2.1/24:\n%s", out)
		}
		out = ns.MustRun(t, "ip", "-o", "link", "show", "lo")
		if !strings.Contains(string(out), "UP") {
			t.Errorf("lo is not up:\n%s", out)
		}
		if _, err := ns.Run(context.Background(), "false"); err == nil || !strings.Contains(err.Error(), "false") {
			t.Errorf("Run(false) = %v, want an error naming the command", err)
		}

		// Start runs in the background until cleanup.
		cmd := ns.Start("sleep", "30")
		if cmd.Process == nil {
			t.Fatal("Start returned an unstarted command")
		}
	})
	if _, err := os.Stat("/run/netns/" + name); !os.IsNotExist(err) {
		t.Errorf("namespace %s still exists after cleanup (stat: %v)", name, err)
	}
}

func TestDoSocketsLiveInNamespace(t *testing.T) {
	ns := NewNamespace(t)
	ns.CreateVeth("veth-a", "veth-b")
	ns.MustRun(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "veth-a")
	ns.MustRun(t, "ip", "addr", "add", "192.0.2.2/24", "dev", "veth-b")

	// A UDP socket bound to 192.0.2.1 can only exist where that address
	// is configured: inside the namespace.
	err := ns.Do(func() error {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9})
		if err != nil {
			return err
		}
		defer c.Close()
		d, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9})
		if err != nil {
			return err
		}
		defer d.Close()
		if _, err := d.Write([]byte("netspace")); err != nil {
			return err
		}
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 64)
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return err
		}
		if got := string(buf[:n]); got != "netspace" {
			return fmt.Errorf("received %q", got)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Do: %v", err)
	}
}
