package sockapi

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"netspace/tcp"

	"go.uber.org/zap"
)

// Config configures a Lib. The zero value is the IP-injection link on the
// real clock at packetdrill's default address, with the linux profile.
type Config struct {
	// TAP names an existing TAP device to attach the stack to; empty
	// means the IP-injection link (Lib.Inject, Lib.Receive).
	TAP string
	// Local is the stack's address and subnet [192.168.0.1/24, the local
	// address packetdrill assumes; the injection link carries no traffic
	// out of the process].
	Local netip.Prefix
	// Gateway is the default route's next hop [on the injection link:
	// the first other host address of Local's subnet; on a TAP: none].
	Gateway netip.Addr
	// MTU is the injection link's MTU [1500] (a TAP has its own).
	MTU int
	// Profile is the behaviour profile, "linux" or "freebsd" ["linux"].
	Profile string
	// Warp runs the stack on a test clock that moves only when told to
	// (Usleep, and Receive while it waits), with every turn run to
	// quiescence by the call that caused it: timer-driven behaviour is
	// reproducible and fast. Only with the injection link.
	Warp bool
	// NoSACK, NoTimestamps and NoWindowScale switch those TCP options off
	// for every connection (TCP_NOOPT switches all three off).
	NoSACK, NoTimestamps, NoWindowScale bool
	// RecvTimeout bounds how long Receive waits for a packet when its
	// caller gives no timeout of its own [10 s of real time; with Warp,
	// 3 h of test-clock time, past TCP's default keepalive idle].
	RecvTimeout time.Duration
	// DrainTimeout bounds how long Stop waits for the connections of
	// closed sockets to deliver what was written to them [10 s; none with
	// Warp, whose clock would not move; < 0: none].
	DrainTimeout time.Duration
	// Start is the test clock's first reading [2025-01-01 00:00:00 UTC].
	Start time.Time
	// Seed seeds the stack's randomness [0: random; a fixed default with
	// Warp, so that runs repeat].
	Seed uint64
	// MaxSockets bounds the open sockets [4096].
	MaxSockets int
	// Logger receives the stack's warnings [none].
	Logger *zap.Logger
}

// defaultStart is the test clock's default first reading.
var defaultStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// ParseFlags parses a flags string: comma-separated key=value pairs, as
// packetdrill's --so_flags passes them.
//
//	local=IP[/BITS]     the stack's address [192.168.0.1/24; a bare IP is a /24]
//	gateway=IP          the default route's next hop
//	mtu=N               the injection link's MTU [1500]
//	profile=NAME        linux or freebsd [linux]
//	clock=warp|real     the test clock or the real one [real]
//	tap=NAME            attach to a TAP device instead of the injection link
//	sack=0|1 ts=0|1 ws=0|1   TCP options [1]
//	noopt               no SACK, timestamps or window scaling
//	rfc5961=1 syncookies=1   always on; 0 is refused
//	rxtimeout=MS        how long netdev_receive waits [10000; warp 3 h]
//	drain=MS            how long stopping waits for closed connections [10000; warp 0]
//	seed=N              randomness seed
//
// An unknown key or a bad value is an error naming it.
func ParseFlags(s string) (Config, error) {
	var cfg Config
	for _, kv := range strings.Split(s, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		bad := func(why string) (Config, error) {
			return Config{}, fmt.Errorf("sockapi: flag %q: %s", kv, why)
		}
		switch k {
		case "local":
			p, err := netip.ParsePrefix(v)
			if err != nil {
				a, aerr := netip.ParseAddr(v)
				if aerr != nil {
					return bad("not an IPv4 address or prefix")
				}
				p = netip.PrefixFrom(a, 24)
			}
			if !p.Addr().Is4() {
				return bad("not IPv4")
			}
			cfg.Local = p
		case "gateway":
			a, err := netip.ParseAddr(v)
			if err != nil || !a.Is4() {
				return bad("not an IPv4 address")
			}
			cfg.Gateway = a
		case "mtu":
			n, err := strconv.Atoi(v)
			if err != nil || n < 576 || n > 65535 {
				return bad("want 576 to 65535")
			}
			cfg.MTU = n
		case "profile":
			if _, err := newProfile(v, 1460); err != nil {
				return bad(err.Error())
			}
			cfg.Profile = v
		case "clock":
			switch v {
			case "warp":
				cfg.Warp = true
			case "real":
				cfg.Warp = false
			default:
				return bad("want warp or real")
			}
		case "tap":
			if v == "" || len(v) > 15 {
				return bad("want a device name of 1 to 15 bytes")
			}
			cfg.TAP = v
		case "sack", "ts", "ws":
			on, ok := boolFlag(v)
			if !ok {
				return bad("want 0 or 1")
			}
			switch k {
			case "sack":
				cfg.NoSACK = !on
			case "ts":
				cfg.NoTimestamps = !on
			default:
				cfg.NoWindowScale = !on
			}
		case "noopt":
			if on, ok := boolFlag(v); !ok || !on {
				return bad("want noopt or noopt=1")
			}
			cfg.NoSACK, cfg.NoTimestamps, cfg.NoWindowScale = true, true, true
		case "rfc5961", "syncookies":
			if on, ok := boolFlag(v); !ok || !on {
				return bad("the stack always has it; it cannot be switched off yet")
			}
		case "rxtimeout":
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 || n > 24*3600*1000 {
				return bad("want milliseconds, 1 to 86400000")
			}
			cfg.RecvTimeout = time.Duration(n) * time.Millisecond
		case "drain":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 3600*1000 {
				return bad("want milliseconds, 0 to 3600000")
			}
			cfg.DrainTimeout = time.Duration(n) * time.Millisecond
			if n == 0 {
				cfg.DrainTimeout = -1
			}
		case "seed":
			n, err := strconv.ParseUint(v, 0, 64)
			if err != nil {
				return bad("want an unsigned integer")
			}
			cfg.Seed = n
		default:
			return bad("unknown flag")
		}
	}
	return cfg, nil
}

// boolFlag parses 0/1 (an empty value, a bare key, means 1).
func boolFlag(v string) (on, ok bool) {
	switch v {
	case "", "1":
		return true, true
	case "0":
		return false, true
	}
	return false, false
}

// profile is what a behaviour profile fixes: the TCP defaults of every
// connection and the socket-level values a conformance script reads.
type profile struct {
	name string
	conn tcp.Config
	// Defaults reported by getsockopt before any setsockopt.
	rcvbuf, sndbuf     int
	keepCount          int
	defaultMaxSeg      int
	bufDouble          bool // Linux doubles SO_RCVBUF/SO_SNDBUF and clamps them
	rcvbufRoundsToMSS  bool // FreeBSD rounds the receive buffer to MSS multiples once connected
	minRcvbuf, maxBuf  int
	minSndbuf          int
	keepIdle, keepIntv time.Duration
}

// newProfile returns the named profile for connections whose MSS is mss.
//
// linux follows Linux 5.x/6.x defaults: options MSS, SACK-permitted,
// timestamps, NOP, window scale; window scale 7 (a 6 MiB receive
// buffer); the SYN's window 65535 rounded down to a multiple of the MSS
// (64240 at MSS 1460); initial RTO 1 s, minimum 200 ms; delayed ACK
// 40 ms; SO_RCVBUF/SO_SNDBUF doubled on set (131072 and 16384 by
// default).
//
// freebsd follows FreeBSD 13/14: options MSS, NOP, window scale,
// SACK-permitted, timestamps; window scale 6 (a 2 MiB buffer limit);
// the SYN's window 65535; initial RTO 1 s, minimum 30 ms; delayed ACK
// 100 ms; keepalive count 8; SO_RCVBUF (65536 by default) rounded up to a
// multiple of the MSS once connected.
func newProfile(name string, mss int) (profile, error) {
	base := tcp.Config{
		MSS:        mss,
		InitialRTO: time.Second,
		TimeWait:   60 * time.Second,
		KeepIdle:   2 * time.Hour,
	}
	switch name {
	case "", "linux":
		p := profile{name: "linux", conn: base, rcvbuf: 131072, sndbuf: 16384, keepCount: 9, defaultMaxSeg: 536,
			bufDouble: true, minRcvbuf: 2304, minSndbuf: 4608, maxBuf: 212992,
			keepIdle: 2 * time.Hour, keepIntv: 75 * time.Second}
		p.conn.RcvBuf = 6 << 20
		p.conn.SYNWindow = 65535 / mss * mss
		p.conn.OptionLayout = tcp.LayoutLinux
		p.conn.MinRTO = 200 * time.Millisecond
		p.conn.DelayedAck = 40 * time.Millisecond
		p.conn.KeepInterval = 75 * time.Second
		p.conn.KeepCount = 9
		return p, nil
	case "freebsd":
		p := profile{name: "freebsd", conn: base, rcvbuf: 65536, sndbuf: 32768, keepCount: 8, defaultMaxSeg: 536,
			rcvbufRoundsToMSS: true, minRcvbuf: 1, minSndbuf: 1, maxBuf: 2 << 20,
			keepIdle: 2 * time.Hour, keepIntv: 75 * time.Second}
		p.conn.RcvBuf = 2 << 20
		p.conn.SYNWindow = 65535
		p.conn.OptionLayout = tcp.LayoutBSD
		p.conn.MinRTO = 30 * time.Millisecond
		p.conn.DelayedAck = 100 * time.Millisecond
		p.conn.KeepInterval = 75 * time.Second
		p.conn.KeepCount = 8
		return p, nil
	}
	return profile{}, fmt.Errorf("unknown profile %q (want linux or freebsd)", name)
}

// setBuf returns the value a buffer size option reads back after it was
// set to v (Linux doubles it within its limits).
func (p *profile) setBuf(v int, rcv bool) int {
	v = max(v, 0)
	if p.bufDouble {
		v = min(v, p.maxBuf) * 2
		if rcv {
			return max(v, p.minRcvbuf)
		}
		return max(v, p.minSndbuf)
	}
	return max(min(v, p.maxBuf), 1)
}

// connectedRcvbuf returns the SO_RCVBUF of a connected socket whose
// buffer was v before the connection.
func (p *profile) connectedRcvbuf(v, mss int) int {
	if p.rcvbufRoundsToMSS && mss > 0 {
		return (v + mss - 1) / mss * mss
	}
	return v
}
