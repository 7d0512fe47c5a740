package sockapi

import (
	"encoding/binary"
	"time"

	ds "netspace/dataspace"
	"netspace/tcp"

	"golang.org/x/sys/unix"
)

// sockOpts are a socket's options, as getsockopt reports them.
type sockOpts struct {
	tcpSet    uint8 // the TCP options the user set (tcpSets sends them)
	nodelay   bool
	keepalive bool
	keepIdle  int // seconds
	keepIntvl int // seconds
	keepCnt   int
	rcvbuf    int
	sndbuf    int
	reuseaddr bool
	reuseport bool
	maxseg    int // 0: never set
	linger    unix.Linger
	rcvtimeo  time.Duration
	sndtimeo  time.Duration
}

// Bits of sockOpts.tcpSet.
const (
	setNoDelay = 1 << iota
	setKeepAlive
	setKeepIdle
	setKeepIntvl
	setKeepCnt
)

// udpRcvbuf is the default receive buffer of a datagram socket (Linux's
// rmem_default).
const udpRcvbuf = 212992

func (l *Lib) defaultOpts() sockOpts {
	p := &l.prof
	return sockOpts{
		keepIdle:  int(p.keepIdle / time.Second),
		keepIntvl: int(p.keepIntv / time.Second),
		keepCnt:   p.keepCount,
		rcvbuf:    p.rcvbuf,
		sndbuf:    p.sndbuf,
	}
}

// tcpSets returns the tcp-set messages that give a connection the TCP
// options the user set.
func (o *sockOpts) tcpSets(remote, local ds.Record) []ds.Record {
	var out []ds.Record
	add := func(bit uint8, opt string, v int64) {
		if o.tcpSet&bit != 0 {
			out = append(out, &tcp.Set{Remote: remote, Local: local, Option: opt, Value: v})
		}
	}
	b := func(on bool) int64 {
		if on {
			return 1
		}
		return 0
	}
	add(setNoDelay, tcp.SetNoDelay, b(o.nodelay))
	add(setKeepIdle, tcp.SetKeepIdle, int64(o.keepIdle)*1000)
	add(setKeepIntvl, tcp.SetKeepInterval, int64(o.keepIntvl)*1000)
	add(setKeepCnt, tcp.SetKeepCount, int64(o.keepCnt))
	add(setKeepAlive, tcp.SetKeepAlive, b(o.keepalive))
	return out
}

// Setsockopt sets an option from its C representation val (an int, a
// struct linger, a struct timeval). SOL_SOCKET: SO_REUSEADDR,
// SO_REUSEPORT, SO_KEEPALIVE, SO_RCVBUF, SO_SNDBUF, SO_LINGER,
// SO_RCVTIMEO, SO_SNDTIMEO. IPPROTO_TCP: TCP_NODELAY, TCP_MAXSEG,
// TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT. Other options are
// ENOPROTOOPT; a value too short is EINVAL. TCP options reach a
// connection at once, or when it is established; SO_RCVBUF, SO_SNDBUF
// and TCP_MAXSEG are recorded and reported but do not change the stack's
// buffers or MSS, which are per stack.
func (l *Lib) Setsockopt(fd, level, opt int, val []byte) error {
	l.mu.Lock()
	s, err := l.get(fd)
	if err != nil {
		l.mu.Unlock()
		return err
	}
	var bit uint8
	err = s.setOpt(level, opt, val, &bit)
	var sets []ds.Record
	if err == nil && bit != 0 && s.state == stConnected && s.actor != nil && !s.dead {
		o := sockOpts{tcpSet: bit, nodelay: s.opts.nodelay, keepalive: s.opts.keepalive,
			keepIdle: s.opts.keepIdle, keepIntvl: s.opts.keepIntvl, keepCnt: s.opts.keepCnt}
		sets = o.tcpSets(s.remoteRec, s.localRec)
	}
	actor := s.actor
	l.mu.Unlock()
	if len(sets) > 0 {
		l.run(func() {
			for _, m := range sets {
				actor.Send(m)
			}
		})
	}
	return err
}

func (s *socket) setOpt(level, opt int, val []byte, bit *uint8) error {
	o := &s.opts
	iv := func() (int, error) {
		if len(val) < 4 {
			return 0, unix.EINVAL
		}
		return int(int32(binary.NativeEndian.Uint32(val))), nil
	}
	switch level {
	case unix.SOL_SOCKET:
		switch opt {
		case unix.SO_REUSEADDR, unix.SO_REUSEPORT, unix.SO_KEEPALIVE, unix.SO_RCVBUF, unix.SO_SNDBUF:
			v, err := iv()
			if err != nil {
				return err
			}
			switch opt {
			case unix.SO_REUSEADDR:
				o.reuseaddr = v != 0
			case unix.SO_REUSEPORT:
				o.reuseport = v != 0
			case unix.SO_KEEPALIVE:
				o.keepalive = v != 0
				if s.typ == unix.SOCK_STREAM {
					o.tcpSet |= setKeepAlive
					*bit = setKeepAlive
				}
			case unix.SO_RCVBUF:
				o.rcvbuf = s.l.prof.setBuf(v, true)
				if s.state == stConnected {
					o.rcvbuf = s.l.prof.connectedRcvbuf(o.rcvbuf, s.l.prof.conn.MSS)
				}
			default:
				o.sndbuf = s.l.prof.setBuf(v, false)
			}
			return nil
		case unix.SO_LINGER:
			if len(val) < 8 {
				return unix.EINVAL
			}
			o.linger.Onoff = int32(binary.NativeEndian.Uint32(val[0:4]))
			o.linger.Linger = max(int32(binary.NativeEndian.Uint32(val[4:8])), 0)
			return nil
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
			if len(val) < 16 {
				return unix.EINVAL
			}
			sec, usec := int64(binary.NativeEndian.Uint64(val[0:8])), int64(binary.NativeEndian.Uint64(val[8:16]))
			if usec < 0 || usec >= 1_000_000 {
				return unix.EDOM
			}
			d := time.Duration(0)
			if sec >= 0 {
				d = time.Duration(min(sec, 1<<31))*time.Second + time.Duration(usec)*time.Microsecond
			}
			if opt == unix.SO_RCVTIMEO {
				o.rcvtimeo = d
			} else {
				o.sndtimeo = d
			}
			return nil
		}
		return unix.ENOPROTOOPT
	case unix.IPPROTO_TCP:
		if s.typ != unix.SOCK_STREAM {
			return unix.ENOPROTOOPT
		}
		v, err := iv()
		if err != nil {
			return err
		}
		switch opt {
		case unix.TCP_NODELAY:
			o.nodelay = v != 0
			*bit = setNoDelay
		case unix.TCP_MAXSEG:
			if v < 88 || v > 32767 {
				return unix.EINVAL
			}
			o.maxseg = v
		case unix.TCP_KEEPIDLE, unix.TCP_KEEPINTVL:
			if v < 1 || v > 32767 {
				return unix.EINVAL
			}
			if opt == unix.TCP_KEEPIDLE {
				o.keepIdle, *bit = v, setKeepIdle
			} else {
				o.keepIntvl, *bit = v, setKeepIntvl
			}
		case unix.TCP_KEEPCNT:
			if v < 1 || v > 127 {
				return unix.EINVAL
			}
			o.keepCnt, *bit = v, setKeepCnt
		default:
			return unix.ENOPROTOOPT
		}
		o.tcpSet |= *bit
		return nil
	}
	return unix.ENOPROTOOPT
}

// Getsockopt writes an option's value into buf in its C representation,
// truncated to len(buf) as Linux does, and returns the length written.
// Besides the options Setsockopt takes it reads SO_ERROR (clearing it),
// SO_TYPE, SO_DOMAIN, SO_PROTOCOL and SO_ACCEPTCONN.
func (l *Lib) Getsockopt(fd, level, opt int, buf []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, err := l.get(fd)
	if err != nil {
		return 0, err
	}
	var v int
	o := &s.opts
	b := func(on bool) int {
		if on {
			return 1
		}
		return 0
	}
	switch level {
	case unix.SOL_SOCKET:
		switch opt {
		case unix.SO_ERROR:
			v = int(s.takeErr())
			s.changed()
		case unix.SO_TYPE:
			v = s.typ
		case unix.SO_DOMAIN:
			v = unix.AF_INET
		case unix.SO_PROTOCOL:
			v = unix.IPPROTO_TCP
			if s.typ == unix.SOCK_DGRAM {
				v = unix.IPPROTO_UDP
			}
		case unix.SO_ACCEPTCONN:
			v = b(s.state == stListening)
		case unix.SO_REUSEADDR:
			v = b(o.reuseaddr)
		case unix.SO_REUSEPORT:
			v = b(o.reuseport)
		case unix.SO_KEEPALIVE:
			v = b(o.keepalive)
		case unix.SO_RCVBUF:
			v = o.rcvbuf
		case unix.SO_SNDBUF:
			v = o.sndbuf
		case unix.SO_LINGER:
			var raw [8]byte
			binary.NativeEndian.PutUint32(raw[0:4], uint32(o.linger.Onoff))
			binary.NativeEndian.PutUint32(raw[4:8], uint32(o.linger.Linger))
			return copy(buf, raw[:]), nil
		case unix.SO_RCVTIMEO, unix.SO_SNDTIMEO:
			d := o.rcvtimeo
			if opt == unix.SO_SNDTIMEO {
				d = o.sndtimeo
			}
			var raw [16]byte
			binary.NativeEndian.PutUint64(raw[0:8], uint64(d/time.Second))
			binary.NativeEndian.PutUint64(raw[8:16], uint64(d%time.Second/time.Microsecond))
			return copy(buf, raw[:]), nil
		default:
			return 0, unix.ENOPROTOOPT
		}
	case unix.IPPROTO_TCP:
		if s.typ != unix.SOCK_STREAM {
			return 0, unix.ENOPROTOOPT
		}
		switch opt {
		case unix.TCP_NODELAY:
			v = b(o.nodelay)
		case unix.TCP_MAXSEG:
			switch {
			case o.maxseg != 0:
				v = o.maxseg
			case s.state == stConnected:
				v = l.prof.conn.MSS
			default:
				v = l.prof.defaultMaxSeg
			}
		case unix.TCP_KEEPIDLE:
			v = o.keepIdle
		case unix.TCP_KEEPINTVL:
			v = o.keepIntvl
		case unix.TCP_KEEPCNT:
			v = o.keepCnt
		default:
			return 0, unix.ENOPROTOOPT
		}
	default:
		return 0, unix.ENOPROTOOPT
	}
	var raw [4]byte
	binary.NativeEndian.PutUint32(raw[:], uint32(int32(v)))
	return copy(buf, raw[:]), nil
}

// SetsockoptInt sets an int option.
func (l *Lib) SetsockoptInt(fd, level, opt, v int) error {
	var raw [4]byte
	binary.NativeEndian.PutUint32(raw[:], uint32(int32(v)))
	return l.Setsockopt(fd, level, opt, raw[:])
}

// GetsockoptInt reads an int option.
func (l *Lib) GetsockoptInt(fd, level, opt int) (int, error) {
	var raw [4]byte
	if _, err := l.Getsockopt(fd, level, opt, raw[:]); err != nil {
		return 0, err
	}
	return int(int32(binary.NativeEndian.Uint32(raw[:]))), nil
}
