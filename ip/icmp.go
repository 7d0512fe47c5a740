package ip

import (
	"net/netip"
	"sync/atomic"
	"time"

	"netspace/actors"
	ds "netspace/dataspace"

	"go.uber.org/zap"
)

// ICMPConfig configures the ICMP actor.
type ICMPConfig struct {
	// ErrorRate and ErrorBurst rate-limit the errors sent: a token bucket
	// of ErrorBurst tokens refilled at ErrorRate per second (defaults
	// 100 and 20, in the spirit of Linux's icmp_ratelimit).
	ErrorRate  float64
	ErrorBurst float64
}

// ICMPStats counts the ICMP actor's work.
type ICMPStats struct {
	Received     atomic.Uint64
	Malformed    atomic.Uint64 // too short or bad checksum
	EchoRequests atomic.Uint64
	EchoReplies  atomic.Uint64 // replies sent
	ErrorsSent   atomic.Uint64
	RateLimited  atomic.Uint64 // errors not sent: over the rate
	Suppressed   atomic.Uint64 // errors not sent: about an error, a broadcast or a later fragment
}

// SpawnICMP starts the ICMP actor (RFC 792, RFC 1122 §3.2.2): it answers
// echo requests to our unicast addresses with echo replies of the same
// identifier, sequence and data (any size: IP fragments replies), ignoring
// the ones received for a broadcast address (as Linux does by default,
// icmp_echo_ignore_broadcasts; RFC 1122 §3.2.2.6 allows it), and turns
// icmp-error messages from the other actors into rate-limited ICMP errors.
//
// Errors about a datagram to or from a broadcast address are never sent.
// The actor learns our subnets from host-route assertions to recognise
// their broadcast addresses; the actors that ask for errors about received
// datagrams also check [Packet].Broadcast before asking, since only the IP
// actor knows for sure what a datagram was received for (a subnet the
// ICMP actor has not heard of yet, or has already forgotten).
func SpawnICMP(t *actors.Turn, cfg ICMPConfig) (*actors.Actor, *ICMPStats) {
	if cfg.ErrorRate <= 0 {
		cfg.ErrorRate = 100
	}
	if cfg.ErrorBurst <= 0 {
		cfg.ErrorBurst = 20
	}
	stats := &ICMPStats{}
	a := t.Spawn("icmp", func(t *actors.Turn) { bootICMP(t, cfg, stats) })
	return a, stats
}

func bootICMP(t *actors.Turn, cfg ICMPConfig, stats *ICMPStats) {
	t.SetMessageLimit(4096)
	log := t.System().Logger().Named("icmp")
	tokens, last := cfg.ErrorBurst, t.Now()
	allow := func(now time.Time) bool {
		tokens += now.Sub(last).Seconds() * cfg.ErrorRate
		last = now
		if tokens > cfg.ErrorBurst {
			tokens = cfg.ErrorBurst
		}
		if tokens < 1 {
			return false
		}
		tokens--
		return true
	}
	trace := func(msg string, fs ...zap.Field) {
		if LabelICMPError.Traced() {
			if ce := log.Check(zap.DebugLevel, msg); ce != nil {
				ce.Write(fs...)
			}
		}
	}
	subnets := map[netip.Addr]netip.Prefix{} // our address → its subnet
	t.Observe(ds.RecordPattern(LabelHostRoute, ds.CaptureAny, ds.CaptureAny, ds.Discard), actors.Handler{
		Added: func(t *actors.Turn, c []ds.Value) {
			subnets[c[0].AsAddr()] = netip.PrefixFrom(c[0].AsAddr(), int(c[1].AsInt())).Masked()
		},
		Removed: func(t *actors.Turn, c []ds.Value) { delete(subnets, c[0].AsAddr()) },
	})
	t.Observe(InboundPattern(ProtocolICMP), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			p := m.(*Packet)
			stats.Received.Add(1)
			msg := ICMP(p.Body)
			if err := msg.Check(); err != nil {
				stats.Malformed.Add(1)
				trace("drop malformed ICMP", zap.Error(err), zap.Stringer("src", p.Src))
				return
			}
			if msg.Type() != ICMPTypeEchoRequest {
				return
			}
			stats.EchoRequests.Add(1)
			if p.Broadcast || !p.Src.Is4() || p.Src.IsUnspecified() || p.Src.IsMulticast() {
				return
			}
			frame := make([]byte, Headroom+len(msg))
			n := PutEchoReply(frame[Headroom:], msg)
			stats.EchoReplies.Add(1)
			t.Send(&Packet{Src: p.Dst, Dst: p.Src, Proto: ProtocolICMP, Body: frame[Headroom : Headroom+n], Frame: frame[:Headroom+n]})
		},
	})
	t.Observe(ds.RecordPattern(LabelICMPError, ds.Discard, ds.Discard, ds.Discard), actors.Handler{
		Message: func(t *actors.Turn, m ds.Record) {
			e := m.(*ICMPError)
			orig := IPv4(e.Original)
			if orig.CheckNoChecksum() != nil || !mayAnswer(orig, subnets) {
				stats.Suppressed.Add(1)
				return
			}
			if !allow(t.Now()) {
				stats.RateLimited.Add(1)
				trace("ICMP error rate-limited", zap.Uint8("type", e.Type), zap.Uint8("code", e.Code))
				return
			}
			n := ICMPErrorLen(orig)
			frame := make([]byte, Headroom+n)
			var rest uint32
			if e.Type == ICMPTypeDestUnreach && e.Code == ICMPCodeFragNeeded {
				rest = uint32(e.MTU)
			}
			PutICMPError(frame[Headroom:], e.Type, e.Code, rest, orig)
			stats.ErrorsSent.Add(1)
			t.Send(&Packet{Src: orig.Dst(), Dst: orig.Src(), Proto: ProtocolICMP, Body: frame[Headroom:], Frame: frame})
		},
	})
}

// mayAnswer applies RFC 1122 §3.2.2: no error about an ICMP error, a
// datagram to or from a broadcast or multicast address, or a fragment
// other than the first. The broadcast addresses are the limited broadcast
// and those of the subnets (our address → its prefix) we know of.
func mayAnswer(orig IPv4, subnets map[netip.Addr]netip.Prefix) bool {
	src, dst := orig.Src(), orig.Dst()
	if dst == limitedBroadcast || dst.IsMulticast() || src == limitedBroadcast || src.IsMulticast() || src.IsUnspecified() {
		return false
	}
	for _, pfx := range subnets {
		if isSubnetBroadcast(pfx, dst) || isSubnetBroadcast(pfx, src) {
			return false
		}
	}
	if orig.FragmentOffset() != 0 {
		return false
	}
	if orig.Protocol() == ProtocolICMP {
		if body := ICMP(orig.Payload()); len(body) >= 1 && (len(body) < 4 || body.IsError()) {
			return false
		}
	}
	return true
}
