package main

import (
	"bytes"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"netspace"
	"netspace/actors"
	"netspace/drivers"
	"netspace/ip"
)

// TestReplay records a session on an in-memory wire — A pings B and sends
// to a closed UDP port — with B's side captured, then replays the capture
// as B: the replayed stack must answer as B did.
func TestReplay(t *testing.T) {
	clock := actors.NewManualClock(time.Unix(1_700_000_000, 0))
	wa, wb := drivers.NewWire(drivers.WireConfig{Clock: clock, NameA: "wa", NameB: "wb"})
	pcap := filepath.Join(t.TempDir(), "b.pcap")
	f, err := os.Create(pcap)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(link drivers.Link, addr string, seed uint64) *netspace.Stack {
		st, err := netspace.New(netspace.Config{Link: link, Addrs: []netip.Prefix{netip.MustParsePrefix(addr)},
			Deterministic: true, Clock: clock, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	a := mk(wa, "192.0.2.1/24", 1)
	b := mk(drivers.Capture(wb, f, 65535, drivers.CaptureClock(clock)), "192.0.2.2/24", 2)
	pinger := a.Spawn("pinger", func(*actors.Turn) {})
	for seq := 0; seq < 4; seq++ {
		pinger.Inject(func(t *actors.Turn) {
			body := make([]byte, ip.ICMPHeaderLen+32)
			ip.PutICMP(body, ip.ICMPTypeEchoRequest, 0, 0x0101<<16|uint32(seq), make([]byte, 32))
			t.Send(&ip.Packet{Dst: netip.MustParseAddr("192.0.2.2"), Proto: ip.ProtocolICMP, Body: body})
		})
		actors.AdvanceAll(clock, 100*time.Millisecond, a.Sys, b.Sys)
	}
	want := b.Counters()["icmp.echo_replies"]
	a.Close()
	b.Close()
	f.Close()
	if want != 4 {
		t.Fatalf("B answered %d of 4 pings while recording", want)
	}

	var out, errb bytes.Buffer
	if code := run([]string{"replay", pcap, "--addr", "192.0.2.2/24", "--log-level", "info"}, &out, &errb); code != 0 {
		t.Fatalf("replay exit %d: %s", code, errb.String())
	}
	m := regexp.MustCompile(`(?m)^icmp\.echo_replies\s+(\d+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no echo replies in the replay's counters:\n%s", out.String())
	}
	if n, _ := strconv.Atoi(m[1]); uint64(n) != want {
		t.Fatalf("replay answered %d pings, the recorded stack %d:\n%s", n, want, out.String())
	}
	if !regexp.MustCompile(`\d+ left out \(sent by that host\)`).MatchString(out.String()) {
		t.Fatalf("replay summary missing:\n%s", out.String())
	}
}
