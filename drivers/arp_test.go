package drivers_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"netspace/test/nettest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if left := nettest.Leftovers(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "drivers: namespaces left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// Addresses of the real-kernel tests, all in 192.0.2.0/24 (TEST-NET-1).
var (
	kernelIP = netip.MustParseAddr("192.0.2.1")
	absentIP = netip.MustParseAddr("192.0.2.9") // owned by nobody until we answer for it
	madeUp   = [6]byte{0x02, 0x00, 0x5e, 0x00, 0x02, 0x09}
)

const etherTypeARP = 0x0806

// arp is the part of an Ethernet/IPv4 ARP frame the tests look at.
type arp struct {
	dst, src [6]byte
	op       uint16
	sha, tha [6]byte
	spa, tpa netip.Addr
}

// parseARP reads an Ethernet frame carrying an IPv4-over-Ethernet ARP
// packet: 14 bytes of Ethernet header and 28 of ARP.
func parseARP(f []byte) (arp, bool) {
	if len(f) < 42 || binary.BigEndian.Uint16(f[12:14]) != etherTypeARP {
		return arp{}, false
	}
	if binary.BigEndian.Uint16(f[14:16]) != 1 || binary.BigEndian.Uint16(f[16:18]) != 0x0800 || f[18] != 6 || f[19] != 4 {
		return arp{}, false
	}
	var a arp
	copy(a.dst[:], f[0:6])
	copy(a.src[:], f[6:12])
	a.op = binary.BigEndian.Uint16(f[20:22])
	copy(a.sha[:], f[22:28])
	a.spa = netip.AddrFrom4([4]byte(f[28:32]))
	copy(a.tha[:], f[32:38])
	a.tpa = netip.AddrFrom4([4]byte(f[38:42]))
	return a, true
}

// arpFrame builds an Ethernet ARP frame.
func arpFrame(a arp) []byte {
	f := make([]byte, 42)
	copy(f[0:6], a.dst[:])
	copy(f[6:12], a.src[:])
	binary.BigEndian.PutUint16(f[12:14], etherTypeARP)
	binary.BigEndian.PutUint16(f[14:16], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(f[16:18], 0x0800) // protocol: IPv4
	f[18], f[19] = 6, 4
	binary.BigEndian.PutUint16(f[20:22], a.op)
	copy(f[22:28], a.sha[:])
	s4, t4 := a.spa.As4(), a.tpa.As4()
	copy(f[28:32], s4[:])
	copy(f[32:38], a.tha[:])
	copy(f[38:42], t4[:])
	return f
}

// collect returns an rx callback that copies frames into a channel of
// capacity n, and the channel. Frames that find it full are left out.
func collect(n int) (func([][]byte), <-chan []byte) {
	ch := make(chan []byte, n)
	return func(frames [][]byte) {
		for _, f := range frames {
			select {
			case ch <- bytes.Clone(f):
			default:
			}
		}
	}, ch
}

// sendUDPFromKernel makes the kernel in ns send one UDP datagram of size
// bytes to dst:9, which makes it ARP for dst first.
func sendUDPFromKernel(t *testing.T, ns *nettest.Namespace, dst netip.Addr, size int) {
	t.Helper()
	err := ns.Do(func() error {
		c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(dst, 9)))
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write(make([]byte, size))
		return err
	})
	if err != nil {
		t.Fatalf("sending UDP from the kernel: %v", err)
	}
}

// awaitARPRequest waits up to 5 s for the kernel's ARP request for target.
func awaitARPRequest(t *testing.T, frames <-chan []byte, target netip.Addr) arp {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f := <-frames:
			if a, ok := parseARP(f); ok && a.op == 1 && a.tpa == target {
				if len(f) != 42 {
					t.Errorf("ARP request is %d bytes, want 42", len(f))
				}
				return a
			}
		case <-deadline:
			t.Fatalf("no ARP request for %v within 5 s", target)
		}
	}
}

// answerARP sends the ARP reply "target is at madeUp" to the request a,
// then waits (up to 2 s, polling every 20 ms) for the kernel's neighbour
// table to show it.
func answerARP(t *testing.T, ns *nettest.Namespace, send func([][]byte) error, req arp) {
	t.Helper()
	reply := arpFrame(arp{dst: req.sha, src: madeUp, op: 2, sha: madeUp, spa: req.tpa, tha: req.sha, tpa: req.spa})
	if err := send([][]byte{reply}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	want := "lladdr " + net.HardwareAddr(madeUp[:]).String()
	var out []byte
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		out, _ = ns.Run(context.Background(), "ip", "neigh", "show", req.tpa.String())
		if strings.Contains(string(out), want) {
			return
		}
	}
	t.Fatalf("neighbour entry for %v never showed %q: %s", req.tpa, want, out)
}
