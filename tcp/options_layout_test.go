package tcp

import (
	"bytes"
	"testing"
	"time"
)

// TestOptionsBSDLayout checks FreeBSD's SYN option layouts, byte for byte,
// for every combination a SYN or SYN-ACK can carry.
func TestOptionsBSDLayout(t *testing.T) {
	const nop, eol = OptionNOP, OptionEOL
	mss := []byte{2, 4, 0x05, 0xb4}
	ws := []byte{3, 3, 6}
	sok := []byte{4, 2}
	ts := []byte{8, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	for _, tc := range []struct {
		name         string
		ws, sack, ts bool
		want         []byte
	}{
		{"all", true, true, true, cat(mss, []byte{nop}, ws, sok, ts)},
		{"no-wscale", false, true, true, cat(mss, sok, ts)},
		{"no-sack", true, false, true, cat(mss, []byte{nop}, ws, []byte{nop, nop}, ts)},
		{"no-ts", true, true, false, cat(mss, []byte{nop}, ws, sok, []byte{eol, eol})},
		{"mss-only", false, false, false, mss},
		{"sack-only", false, true, false, cat(mss, sok, []byte{eol, eol})},
		{"ts-only", false, false, true, cat(mss, []byte{nop, nop}, ts)},
		{"wscale-only", true, false, false, cat(mss, []byte{nop}, ws)},
	} {
		o := Options{Layout: LayoutBSD, HasMSS: true, MSS: 1460, HasWScale: tc.ws, SACKPermitted: tc.sack, HasTS: tc.ts}
		if tc.ws {
			o.WScale = 6
		}
		if tc.ts {
			o.TSVal, o.TSEcr = 1, 2
		}
		if n := OptionsLen(&o); n != len(tc.want) {
			t.Errorf("%s: OptionsLen = %d, want %d", tc.name, n, len(tc.want))
			continue
		}
		b := make([]byte, 40)
		n := PutOptions(b, &o)
		if !bytes.Equal(b[:n], tc.want) {
			t.Errorf("%s: PutOptions = % x, want % x", tc.name, b[:n], tc.want)
		}
		var back Options
		if err := ParseOptions(b[:n], &back); err != nil {
			t.Errorf("%s: ParseOptions: %v", tc.name, err)
		}
		back.Layout = LayoutBSD
		if back != o {
			t.Errorf("%s: round trip %+v, want %+v", tc.name, back, o)
		}
	}
	// SACK blocks after timestamps sit at 2 mod 4, as Linux's do.
	o := Options{Layout: LayoutBSD, HasTS: true, NumSACK: 4}
	if n := OptionsLen(&o); n != 12+4+24 {
		t.Errorf("TS + SACK: length %d, want 40 (three blocks fit)", n)
	}
}

// TestSYNKnobs checks that SYNWindow caps the SYN's window and that
// OptionLayout reaches the SYN's options.
func TestSYNKnobs(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewConn(Config{SYNWindow: 64240, OptionLayout: LayoutBSD}, scriptLocal, scriptRemote, 1, now)
	c.Connect(now)
	segs := c.TakeSegments()
	if len(segs) != 1 || !segs[0].Flags.Has(FlagSYN) {
		t.Fatalf("want one SYN, got %v", segs)
	}
	if segs[0].Window != 64240 {
		t.Errorf("SYN window %d, want 64240", segs[0].Window)
	}
	if segs[0].Opts.Layout != LayoutBSD {
		t.Errorf("SYN layout %v, want LayoutBSD", segs[0].Opts.Layout)
	}
}
