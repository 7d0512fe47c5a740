package test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"netspace"
	"netspace/drivers"
	"netspace/test/nettest"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

const (
	kernelCIDR = "192.0.2.1/24"
	stackAddr  = "192.0.2.2"
)

// kernelStack is a stack on a TAP device in a fresh namespace, with the
// kernel at 192.0.2.1 on the other side, capturing to a pcap file.
type kernelStack struct {
	ns   *nettest.Namespace
	st   *netspace.Stack
	pcap string
}

func newKernelStack(t *testing.T) *kernelStack { return newKernelStackFaults(t, drivers.LinkFaults{}) }

// newKernelStackFaults is newKernelStack with the stack's own fault
// injection on its link, both ways.
func newKernelStackFaults(t *testing.T, faults drivers.LinkFaults) *kernelStack {
	nettest.RequireRoot(t)
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", kernelCIDR)
	tap, err := ns.OpenTAP("tap0")
	if err != nil {
		t.Fatal(err)
	}
	pcap := filepath.Join(t.TempDir(), "capture.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	var link drivers.Link = drivers.Capture(tap, f, 65535)
	if faults != (drivers.LinkFaults{}) {
		link = drivers.Faulty(link, faults, faults, 1)
	}
	st, err := netspace.New(netspace.Config{
		Link:    link,
		Addrs:   []netip.Prefix{netip.MustParsePrefix(stackAddr + "/24")},
		Gateway: netip.MustParseAddr("192.0.2.1"),
		Logger:  zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	st.ServeUDPEcho(7)
	st.ServeTCPEcho(7)
	st.ServeTCPDiscard(9)
	if err := st.ServeHTTP(80, netspace.HelloHandler()); err != nil {
		t.Fatal(err)
	}
	k := &kernelStack{ns: ns, st: st, pcap: pcap}
	t.Cleanup(func() {
		k.st.Close()
		f.Close()
	})
	return k
}

var rttRE = regexp.MustCompile(`time=([0-9.]+) ms`)

// ping runs the kernel's ping and returns the RTTs of the replies.
func (k *kernelStack) ping(t *testing.T, count, size int) []float64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(count+10)*time.Second)
	defer cancel()
	out, err := k.ns.Run(ctx, "ping", "-n", "-c", strconv.Itoa(count), "-i", "0.05", "-W", "2",
		"-s", strconv.Itoa(size), stackAddr)
	if err != nil {
		t.Fatalf("ping -s %d: %v\n%s\ncounters: %v", size, err, out, nonZero(k.st.Counters()))
	}
	var rtts []float64
	for _, m := range rttRE.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.ParseFloat(m[1], 64)
		rtts = append(rtts, v)
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d received", count)) || len(rtts) != count {
		t.Fatalf("ping -s %d: not every reply came back:\n%s", size, out)
	}
	return rtts
}

func TestKernelPing(t *testing.T) {
	k := newKernelStack(t)
	for _, size := range []int{56, 1472, 4000} {
		rtts := k.ping(t, 20, size)
		sort.Float64s(rtts)
		t.Logf("ping -s %d: p50 %.3f ms, max %.3f ms", size, rtts[len(rtts)/2], rtts[len(rtts)-1])
	}
	c := k.st.Counters()
	if c["ip.fragments"] < 20*3 || c["ip.sent_fragments"] < 20*3 {
		t.Fatalf("4000-byte pings were not reassembled and fragmented: %v", nonZero(c))
	}
	// The kernel learned our MAC through ARP.
	out := k.ns.MustRun(t, "ip", "neigh", "show", stackAddr, "dev", "tap0")
	if !strings.Contains(string(out), k.st.MAC.String()) {
		t.Fatalf("kernel neighbour table lacks %s at %s:\n%s", stackAddr, k.st.MAC, out)
	}
}

func TestKernelUDPEcho(t *testing.T) {
	k := newKernelStack(t)
	err := k.ns.Do(func() error {
		conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(stackAddr+":7")))
		if err != nil {
			return err
		}
		defer conn.Close()
		for _, size := range []int{1, 512, 1472, 8000} {
			msg := make([]byte, size)
			for i := range msg {
				msg[i] = byte(i*7 + size)
			}
			if err := echoOnce(conn, msg); err != nil {
				return fmt.Errorf("%d bytes: %w", size, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v (counters %v)", err, nonZero(k.st.Counters()))
	}
}

// echoOnce sends msg and waits for the same bytes back, retrying twice.
func echoOnce(conn *net.UDPConn, msg []byte) error {
	buf := make([]byte, 65536)
	for try := 0; try < 3; try++ {
		if _, err := conn.Write(msg); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := conn.Read(buf)
		if err != nil {
			continue
		}
		if string(buf[:n]) != string(msg) {
			return fmt.Errorf("echo differs: sent %d bytes, got %d", len(msg), n)
		}
		return nil
	}
	return errors.New("no echo after 3 tries")
}

func TestKernelPortUnreachable(t *testing.T) {
	k := newKernelStack(t)
	err := k.ns.Do(func() error {
		conn, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(stackAddr+":9999")))
		if err != nil {
			return err
		}
		defer conn.Close()
		buf := make([]byte, 100)
		for try := 0; try < 5; try++ {
			conn.Write([]byte("anyone?"))
			conn.SetReadDeadline(time.Now().Add(time.Second))
			_, err = conn.Read(buf)
			if errors.Is(err, syscall.ECONNREFUSED) {
				return nil
			}
		}
		return fmt.Errorf("want connection refused, got %v", err)
	})
	if err != nil {
		t.Fatalf("%v (counters %v)", err, nonZero(k.st.Counters()))
	}
	if c := k.st.Counters(); c["udp.no_port"] == 0 || c["icmp.errors_sent"] == 0 {
		t.Fatalf("counters: %v", nonZero(c))
	}
}

func TestKernelPcapReadsBack(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed (scripts/setup.sh installs it): skipping the pcap read-back")
	}
	k := newKernelStack(t)
	k.ping(t, 3, 56)
	k.st.Close() // flushes the capture
	out, err := exec.Command(tcpdump, "-r", k.pcap, "-nn").CombinedOutput()
	if err != nil {
		t.Fatalf("tcpdump: %v\n%s", err, out)
	}
	text := string(out)
	if n := strings.Count(text, "ICMP echo reply"); n != 3 {
		t.Fatalf("tcpdump shows %d echo replies, want 3:\n%s", n, text)
	}
	if !strings.Contains(text, "ARP, Reply "+stackAddr+" is-at "+k.st.MAC.String()) {
		t.Fatalf("tcpdump shows no ARP reply for %s:\n%s", stackAddr, text)
	}
}

func nonZero(c map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range c {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}
