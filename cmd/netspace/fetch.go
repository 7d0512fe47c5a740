package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"netspace"
	"netspace/dhcp"
	"netspace/dns"
	"netspace/drivers"

	"go.uber.org/zap"
)

// cmdFetch is the Racket netstack's fetchurl: a stack on a TAP device
// gets its address by DHCP (unless --addr is given), resolves the URL's
// host with the resolver, opens a TCP connection and sends an HTTP GET;
// the body goes to stdout. With --trace (dhcp,dns,arp,tcp or all) every
// step shows.
func cmdFetch(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	var sf stackFlags
	sf.register(fs, "", "", "warn")
	var svc netServices
	fs.Var(&svc.servers, "dns-server", "a DNS server (repeatable; with DHCP, the lease's are added)")
	tap := fs.String("tap", "tap0", "attach to this TAP device")
	create := fs.Bool("create-tap", false, "create the TAP device if it does not exist")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after this long")
	pos, err := parseFlagsArgs(fs, args, stdout)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{fmt.Errorf("fetch: want one URL, got %d arguments", len(pos))}
	}
	u, err := url.Parse(pos[0])
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return usageError{fmt.Errorf("fetch: %q is not an http:// URL", pos[0])}
	}
	if *timeout <= 0 {
		return usageError{fmt.Errorf("bad --timeout %v", *timeout)}
	}
	levelSet := false
	fs.Visit(func(f *flag.Flag) { levelSet = levelSet || f.Name == "log-level" })
	if sf.trace != "" && !levelSet {
		sf.level = "debug" // traces are logged at debug level
	}
	log, err := newLogger(sf.level, stderr)
	if err != nil {
		return err
	}
	defer log.Sync()
	svc.dhcp = sf.addr == ""
	if svc.dhcp {
		sf.addr = "0.0.0.0/0" // validated below, then dropped: DHCP gives the address
	}
	cfg, err := sf.config(log)
	if err != nil {
		return err
	}
	if svc.dhcp {
		cfg.Addrs = nil
	}
	svc.resolverOn = true
	link, err := drivers.OpenTAP(*tap, drivers.TAPOptions{Create: *create})
	if err != nil {
		return err
	}
	cfg.Link, cfg.Iface = link, link.Name()
	svc.iface = cfg.Iface
	st, err := netspace.New(cfg)
	if err != nil {
		link.Close()
		return usageError{err}
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := st.WaitReady(ctx); err != nil {
		return err
	}
	svc.start(st, log)
	defer svc.stop(log)
	if svc.dhcp {
		addr, err := dhcp.WaitLease(ctx, st.Sys, cfg.Iface)
		if err != nil {
			return fmt.Errorf("no DHCP lease: %w", err)
		}
		log.Info("address by DHCP", zap.Stringer("addr", addr))
	}
	res := dns.NewGoResolver(st.Sys, st.Net)
	client := &http.Client{Transport: &http.Transport{DialContext: res.DialContext, DisableKeepAlives: true}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return usageError{err}
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return errors.New("fetch: " + resp.Status)
	}
	return nil
}
