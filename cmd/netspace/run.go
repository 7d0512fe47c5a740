package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"netspace"
	"netspace/drivers"
	"netspace/ethernet"

	"go.uber.org/zap"
)

// stackFlags are the flags shared by run and replay.
type stackFlags struct {
	addr, gateway, mac, trace, level, cc string
}

func (f *stackFlags) register(fs *flag.FlagSet, defaultAddr, defaultTrace, defaultLevel string) {
	fs.StringVar(&f.addr, "addr", defaultAddr, "the stack's address and prefix, e.g. 192.0.2.2/24")
	fs.StringVar(&f.gateway, "gateway", "", "default gateway, e.g. 192.0.2.1 (none if empty)")
	fs.StringVar(&f.mac, "mac", "", "the stack's MAC (default: the link's, else random locally administered)")
	fs.StringVar(&f.trace, "trace", defaultTrace, `layers to trace, comma-separated (e.g. "arp,ip,udp"; "all")`)
	fs.StringVar(&f.level, "log-level", defaultLevel, "log level: debug, info, warn, error (traces need debug)")
	fs.StringVar(&f.cc, "tcp-cc", "cubic", "TCP congestion control: cubic or reno")
}

// config turns the flags into a stack Config (without the link).
func (f *stackFlags) config(log *zap.Logger) (netspace.Config, error) {
	cfg := netspace.Config{Logger: log}
	pfx, err := netip.ParsePrefix(f.addr)
	if err != nil || !pfx.Addr().Is4() {
		return cfg, usageError{fmt.Errorf("bad --addr %q: want an IPv4 address with prefix, e.g. 192.0.2.2/24", f.addr)}
	}
	cfg.Addrs = []netip.Prefix{pfx}
	if f.gateway != "" {
		gw, err := netip.ParseAddr(f.gateway)
		if err != nil || !gw.Is4() {
			return cfg, usageError{fmt.Errorf("bad --gateway %q: want an IPv4 address", f.gateway)}
		}
		cfg.Gateway = gw
	}
	if f.mac != "" {
		mac, err := ethernet.ParseMAC(f.mac)
		if err != nil || !mac.IsUnicast() {
			return cfg, usageError{fmt.Errorf("bad --mac %q: want a unicast MAC like 02:00:00:00:00:02", f.mac)}
		}
		cfg.MAC = mac
	}
	if f.trace != "" {
		cfg.Trace = strings.Split(f.trace, ",")
	}
	if f.cc != "cubic" && f.cc != "reno" {
		return cfg, usageError{fmt.Errorf("bad --tcp-cc %q: cubic or reno", f.cc)}
	}
	cfg.TCP.Conn.Congestion = f.cc
	return cfg, nil
}

// cmdRun runs the stack on a TAP device (or a packet socket) until SIGTERM
// or SIGINT, serving ICMP echo and UDP echo on port 7.
func cmdRun(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var sf stackFlags
	sf.register(fs, "192.0.2.2/24", "", "info")
	tap := fs.String("tap", "", "attach to this TAP device (default tap0 unless --packet is given)")
	create := fs.Bool("create-tap", false, "create the TAP device if it does not exist (it goes away at exit)")
	packet := fs.String("packet", "", "attach to this existing interface with an AF_PACKET socket instead of a TAP")
	pcapFile := fs.String("pcap", "", "capture every frame in and out to this pcap file")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (go tool pprof) to this file until exit")
	for _, f := range features {
		if f.flags != nil {
			f.flags(fs)
		}
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if *tap != "" && *packet != "" {
		return usageError{fmt.Errorf("--tap and --packet are exclusive")}
	}
	if *tap == "" && *packet == "" {
		*tap = "tap0"
	}
	log, err := newLogger(sf.level, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	cfg, err := sf.config(log)
	if err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	var link drivers.Link
	if *packet != "" {
		link, err = drivers.OpenPacket(*packet)
	} else {
		link, err = drivers.OpenTAP(*tap, drivers.TAPOptions{Create: *create})
	}
	if err != nil {
		return err
	}
	if *pcapFile != "" {
		f, err := os.Create(*pcapFile)
		if err != nil {
			link.Close()
			return err
		}
		defer f.Close()
		link = drivers.Capture(link, f, 65535)
	}
	cfg.Link = link
	for _, f := range features {
		if f.configure != nil {
			if err := f.configure(&cfg); err != nil {
				link.Close()
				return usageError{err}
			}
		}
	}
	st, err := netspace.New(cfg)
	if err != nil {
		link.Close()
		return usageError{err}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err = st.WaitReady(ctx)
	cancel()
	if err == nil {
		err = startServices(st)
	}
	var stops []func()
	for _, f := range features {
		if err != nil || f.start == nil {
			continue
		}
		var stop func()
		if stop, err = f.start(st, log); stop != nil {
			stops = append(stops, stop)
		}
		if err != nil {
			err = fmt.Errorf("%s: %w", f.name, err)
		}
	}
	runStops := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		stops = nil
	}
	if err != nil {
		runStops()
		st.Close()
		return err
	}
	log.Info("netspace is up", zap.String("link", link.Name()), zap.Stringer("mac", st.MAC),
		zap.String("addr", sf.addr), zap.String("gateway", sf.gateway), zap.Int("mtu", link.MTU()))

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	select {
	case s := <-sig:
		log.Info("stopping", zap.Stringer("signal", s))
	case <-link.Done():
		if err := link.Err(); err != nil {
			runStops()
			st.Close()
			return fmt.Errorf("link %s failed: %w", link.Name(), err)
		}
	}
	runStops()
	logCounters(log, st)
	return st.Close()
}

// startServices starts the services every netspace process offers, the
// contract of ../shared/netbench: TCP echo 7, discard 9, source 19, HTTP
// 80 (net/http over the stack's listener), UDP echo 7, ICMP echo (built
// in), and the chat demo on 5999.
func startServices(st *netspace.Stack) error {
	st.ServeUDPEcho(7)
	st.ServeTCPEcho(7)
	st.ServeTCPDiscard(9)
	st.ServeTCPSource(19)
	st.ServeChat(5999)
	return st.ServeHTTP(80, netspace.HelloHandler())
}

// logCounters logs the stack's non-zero counters at debug level.
func logCounters(log *zap.Logger, st *netspace.Stack) {
	if ce := log.Check(zap.DebugLevel, "counters"); ce != nil {
		c := st.Counters()
		var fs []zap.Field
		for _, name := range st.CounterNames() {
			if c[name] != 0 {
				fs = append(fs, zap.Uint64(name, c[name]))
			}
		}
		ce.Write(fs...)
	}
}

// printCounters writes the non-zero counters, one per line.
func printCounters(w io.Writer, c map[string]uint64) {
	names := make([]string, 0, len(c))
	for k, v := range c {
		if v != 0 {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "%-28s %d\n", n, c[n])
	}
}
