package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"time"

	"netspace"
	"netspace/actors"
	"netspace/drivers"
	"netspace/ethernet"
	"netspace/ip"

	"github.com/google/gopacket/pcapgo"
)

// cmdReplay feeds a pcap capture through a stack, on a manual clock paced
// by the capture's timestamps, and prints the trace and the counters. The
// stack plays the host at --addr: frames that host sent in the capture
// are left out, and what the stack sends instead is counted.
func cmdReplay(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	var sf stackFlags
	sf.register(fs, "192.0.2.2/24", "ethernet,arp,ip,icmp,udp", "debug")
	pos, err := parseFlagsArgs(fs, reorderArgs(args), stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("replay: want one pcap file, got %d arguments", len(pos))}
	}
	file := pos[0]
	log, err := newLogger(sf.level, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	cfg, err := sf.config(log)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if cfg.MAC == (ethernet.MAC{}) {
		if cfg.MAC, err = inferMAC(data, cfg.Addrs[0].Addr()); err != nil {
			return err
		}
	}
	mac := cfg.MAC
	clock := actors.NewManualClock(time.Unix(0, 0))
	link, err := drivers.Playback(bytes.NewReader(data), drivers.PlaybackOptions{
		Name: "replay", Pace: true, Clock: clock, HardwareAddr: mac, Record: 1 << 16,
		Filter: func(f []byte) bool { return len(f) < 12 || ethernet.MAC(f[6:12]) != mac },
	})
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	cfg.Link, cfg.Deterministic, cfg.Clock = link, true, clock
	st, err := netspace.New(cfg)
	if err != nil {
		return usageError{err}
	}
	st.ServeUDPEcho(7)
	st.ServeTCPEcho(7)
	// Run the capture in simulated time: jump from one timer to the next
	// (frame deliveries are timers too) until the file has been played,
	// then give the stack 5 s more to finish (retries, timeouts).
	for steps := 0; ; steps++ {
		select {
		case <-link.Done():
		default:
			next, ok := clock.Next()
			if !ok || steps > 10_000_000 {
				return errors.New("replay: the playback stalled")
			}
			st.Sys.Advance(next.Sub(clock.Now()))
			continue
		}
		break
	}
	st.Sys.Advance(5 * time.Second)
	if err := link.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	fmt.Fprintf(stdout, "replayed %s as %v (%s): %d frames in, %d left out (sent by that host), %d frames sent\n",
		file, cfg.Addrs[0], mac, link.Stats().RxFrames, link.Filtered(), len(link.Sent()))
	printCounters(stdout, st.Counters())
	return st.Close()
}

// reorderArgs moves flags before positional arguments, so that
// "replay file.pcap --addr x" works as well as "replay --addr x file.pcap".
func reorderArgs(args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			if !bytes.Contains([]byte(a), []byte("=")) && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// inferMAC finds the MAC the host at addr used in a capture: the Ethernet
// destination of a frame sent to addr (IPv4 or an ARP reply).
func inferMAC(data []byte, addr netip.Addr) (ethernet.MAC, error) {
	r, err := pcapgo.NewReader(bytes.NewReader(data))
	if err != nil {
		return ethernet.MAC{}, err
	}
	for {
		b, _, err := r.ReadPacketData()
		if err != nil {
			return ethernet.MAC{}, fmt.Errorf("no frame to %v in the capture tells its MAC: give --mac", addr)
		}
		f := ethernet.Frame(b)
		if f.Check() != nil || !f.Dst().IsUnicast() {
			continue
		}
		switch f.EtherType() {
		case ethernet.EtherTypeIPv4:
			if h := ip.IPv4(f.Payload()); h.CheckNoChecksum() == nil && h.Dst() == addr {
				return f.Dst(), nil
			}
		case ethernet.EtherTypeARP:
			if a := ethernet.ARP(f.Payload()); a.Check() == nil && a.TargetIP() == addr {
				return f.Dst(), nil
			}
		}
	}
}
