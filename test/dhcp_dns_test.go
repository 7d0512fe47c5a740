package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"netspace"
	"netspace/dhcp"
	"netspace/dns"
	"netspace/test/nettest"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// requireCommand skips the test unless name is installed (scripts/setup.sh
// installs dnsmasq and dig on Debian).
func requireCommand(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	t.Skipf("needs %s (Debian: scripts/setup.sh installs it): skipping %s", name, t.Name())
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// startDnsmasq runs dnsmasq in the foreground on tap0 of ns as DHCP server
// (192.0.2.50–99, 2-minute leases — its minimum — with T1 5 s and T2 8 s so
// that a renewal comes quickly) and DNS server for the names given as
// extra flags; it answers NXDOMAIN for other names under .test. It returns
// the lease file's path; dnsmasq is killed at cleanup.
func startDnsmasq(t *testing.T, ns *nettest.Namespace, extra ...string) string {
	bin := requireCommand(t, "dnsmasq")
	leases := filepath.Join(t.TempDir(), "leases")
	args := append([]string{bin, "--no-daemon", "--conf-file=/dev/null", "--dhcp-leasefile=" + leases, "--pid-file=",
		"--interface=tap0", "--bind-interfaces", "--user=root", "--log-facility=-", "--log-dhcp", "--log-queries",
		"--dhcp-range=192.0.2.50,192.0.2.99,255.255.255.0,2m", "--dhcp-option=58,5", "--dhcp-option=59,8",
		"--dhcp-authoritative", "--no-resolv", "--no-hosts", "--local=/test/",
		// No ICMP check of an address before offering it: it costs 3 s
		// per lease (our own ARP probe is what the client tests).
		"--no-ping"}, extra...)
	ns.Start(args...)
	// Wait until it listens on the DHCP and DNS ports, so that the first
	// DISCOVER is not sent into the void.
	if !pollUntil(5*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		out, err := ns.Run(ctx, "ss", "-Hlun")
		return err == nil && strings.Contains(string(out), ":67 ") && strings.Contains(string(out), ":53 ")
	}) {
		t.Fatal("dnsmasq does not listen on ports 67 and 53 after 5 s")
	}
	return leases
}

// leaseLine returns dnsmasq's lease-file line for mac ("" if none).
func leaseLine(path, mac string) string {
	b, _ := os.ReadFile(path)
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, " "+mac+" ") {
			return line
		}
	}
	return ""
}

// pollUntil polls cond every 50 ms until it holds or d has passed.
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// TestKernelDHCPAndDNS runs the DHCP client and the resolver against
// dnsmasq: the stack gets a lease, renews it at T1, resolves a name
// dnsmasq serves (and gets NXDOMAIN for one it does not), and releases
// the lease, which dnsmasq's lease file then no longer lists.
func TestKernelDHCPAndDNS(t *testing.T) {
	nettest.RequireRoot(t)
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", kernelCIDR)
	leases := startDnsmasq(t, ns, "--address=/example.test/192.0.2.77")
	tap, err := ns.OpenTAP("tap0")
	if err != nil {
		t.Fatal(err)
	}
	st, err := netspace.New(netspace.Config{Link: tap, Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, rst := dns.StartResolver(st.Sys, dns.ResolverConfig{})
	start := time.Now()
	ag := dhcp.Start(st.Sys, dhcp.AgentConfig{Iface: "tap0", MAC: st.MAC, Seed: uint64(start.UnixNano())})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pfx, err := dhcp.WaitLease(ctx, st.Sys, "tap0")
	if err != nil {
		t.Fatalf("no lease: %v (client %+v)", err, ag.Stats)
	}
	leased := time.Since(start)
	if !netip.MustParsePrefix("192.0.2.0/24").Contains(pfx.Addr()) || pfx.Bits() != 24 {
		t.Fatalf("lease %v outside dnsmasq's range", pfx)
	}
	mac := st.MAC.String()
	if !pollUntil(5*time.Second, func() bool { return strings.Contains(leaseLine(leases, mac), " "+pfx.Addr().String()+" ") }) {
		t.Fatalf("dnsmasq's lease file does not list %s at %v", mac, pfx.Addr())
	}
	// The kernel reaches the leased address.
	ns.MustRun(t, "ping", "-n", "-c", "1", "-W", "2", pfx.Addr().String())

	// T1 is 5 s: a renewal comes and is ACKed, the lease unchanged.
	if !pollUntil(15*time.Second, func() bool { return ag.Stats.Renewals.Load() >= 1 }) {
		t.Fatalf("no renewal within 15 s: %+v", ag.Stats)
	}
	renewed := time.Since(start)

	r := dns.NewGoResolver(st.Sys, st.Net)
	a, err := r.LookupAddr(ctx, "example.test")
	if err != nil || a != netip.MustParseAddr("192.0.2.77") {
		t.Fatalf("example.test: %v, %v (resolver queries %d, timeouts %d)", a, err, rst.Queries.Load(), rst.Timeouts.Load())
	}
	var dnsErr *net.DNSError
	if _, err := r.LookupAddr(ctx, "nothere.test"); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Fatalf("nothere.test: %v, want NXDOMAIN", err)
	}

	if err := ag.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(5*time.Second, func() bool { return leaseLine(leases, mac) == "" }) {
		t.Fatalf("lease still listed after RELEASE: %q", leaseLine(leases, mac))
	}
	if ag.Stats.Releases.Load() != 1 || ag.Stats.Naks.Load() != 0 {
		t.Fatalf("client counters %+v", ag.Stats)
	}
	t.Logf("lease %v after %v (1 s of it the ARP probe); renewed at %v", pfx, leased.Round(time.Millisecond), renewed.Round(time.Millisecond))
}

// TestBinaryDHCPDNS runs the program: fetch (DHCP, DNS, TCP, HTTP against
// dnsmasq and an HTTP server on the kernel side), the responder against
// dig, and run --dhcp.
func TestBinaryDHCPDNS(t *testing.T) {
	nettest.RequireRoot(t)
	bin := buildNetspace(t)
	t.Run("fetch", func(t *testing.T) { testFetch(t, bin) })
	t.Run("responder", func(t *testing.T) { testResponder(t, bin) })
	t.Run("run-dhcp", func(t *testing.T) { testRunDHCP(t, bin) })
}

func testFetch(t *testing.T, bin string) {
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", kernelCIDR)
	leases := startDnsmasq(t, ns, "--address=/web.test/192.0.2.1")
	var l net.Listener
	if err := ns.Do(func() (err error) { l, err = net.Listen("tcp4", "192.0.2.1:8080"); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello from the kernel side, %s\n", r.URL.Path)
	})}
	go srv.Serve(l)
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns.Name(), bin, "fetch", "--tap", "tap0",
		"--trace", "dhcp,dns", "--timeout", "30s", "http://web.test:8080/some/path")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("fetch: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	took := time.Since(start)
	if got := stdout.String(); got != "hello from the kernel side, /some/path\n" {
		t.Fatalf("fetch printed %q\nstderr:\n%s", got, stderr.String())
	}
	for _, want := range []string{"dhcp-lease", `"state": "bound"`, "dns-answer", `"name": "web.test"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("trace lacks %q:\n%s", want, stderr.String())
		}
	}
	// fetch released its lease on the way out.
	b, _ := os.ReadFile(leases)
	if strings.TrimSpace(string(b)) != "" {
		t.Errorf("lease file not empty after fetch: %q", b)
	}
	t.Logf("fetch over DHCP, DNS, TCP and HTTP took %v", took.Round(time.Millisecond))
}

// dig runs dig in ns against the responder and returns its output.
func dig(t *testing.T, ns *nettest.Namespace, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := ns.Run(ctx, append([]string{requireCommand(t, "dig"), "@" + stackAddr, "+time=2", "+tries=2"}, args...)...)
	if err != nil {
		t.Fatalf("dig %v: %v", args, err)
	}
	return string(out)
}

func testResponder(t *testing.T, bin string) {
	requireCommand(t, "dig")
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", kernelCIDR)
	cmd := exec.Command("ip", "netns", "exec", ns.Name(), bin, "run", "--tap", "tap0", "--addr", stackAddr+"/24",
		"--dns-name", "host.test="+stackAddr, "--dns-name", "www.test=192.0.2.77")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !pollUntil(10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := ns.Run(ctx, "ping", "-n", "-c", "1", "-W", "1", stackAddr)
		return err == nil
	}) {
		t.Fatalf("stack not up:\n%s", out.String())
	}
	for _, transport := range []string{"+notcp", "+tcp"} {
		if got := strings.TrimSpace(dig(t, ns, transport, "+short", "host.test", "A")); got != stackAddr {
			t.Errorf("%s A host.test: %q", transport, got)
		}
		if got := strings.TrimSpace(dig(t, ns, transport, "+short", "WWW.test.", "A")); got != "192.0.2.77" {
			t.Errorf("%s A WWW.test: %q", transport, got)
		}
		if got := strings.TrimSpace(dig(t, ns, transport, "+short", "-x", stackAddr)); got != "host.test." {
			t.Errorf("%s PTR %s: %q", transport, stackAddr, got)
		}
		full := dig(t, ns, transport, "nothere.test", "A")
		if !strings.Contains(full, "status: NXDOMAIN") || !strings.Contains(full, "flags: qr aa") {
			t.Errorf("%s nothere.test: want an authoritative NXDOMAIN:\n%s", transport, full)
		}
	}
}

var leaseRE = regexp.MustCompile(`dhcp lease.*"addr": "([0-9.]+)/24"`)

func testRunDHCP(t *testing.T, bin string) {
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", kernelCIDR)
	leases := startDnsmasq(t, ns)
	cmd := exec.Command("ip", "netns", "exec", ns.Name(), bin, "run", "--tap", "tap0", "--dhcp")
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { cmd.Process.Kill(); <-exited }()
	var addr string
	if !pollUntil(15*time.Second, func() bool {
		m := leaseRE.FindStringSubmatch(out.String())
		if m != nil {
			addr = m[1]
		}
		return m != nil
	}) {
		t.Fatalf("no lease logged within 15 s:\n%s", out.String())
	}
	ns.MustRun(t, "ping", "-n", "-c", "3", "-i", "0.1", "-W", "2", addr)
	if b, _ := os.ReadFile(leases); !strings.Contains(string(b), " "+addr+" ") {
		t.Fatalf("lease file lacks %s: %q", addr, b)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("still running 5 s after SIGTERM\n%s", out.String())
	}
	if !pollUntil(5*time.Second, func() bool { b, _ := os.ReadFile(leases); return !strings.Contains(string(b), " "+addr+" ") }) {
		b, _ := os.ReadFile(leases)
		t.Fatalf("lease of %s not released at exit: %q\n%s", addr, b, out.String())
	}
	if !strings.Contains(out.String(), `"addr": "dhcp"`) {
		t.Errorf("startup log does not say the address comes by DHCP:\n%s", out.String())
	}
}
