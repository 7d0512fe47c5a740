package tcp

import (
	"net/netip"
	"testing"
	"time"
)

var (
	cookieLocal  = netip.MustParseAddrPort("192.0.2.1:80")
	cookieRemote = netip.MustParseAddrPort("198.51.100.7:40000")
	cookieNow    = time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC)
)

// allCookieOptions returns every option combination a cookie can carry,
// for each MSS of the table.
func allCookieOptions() []CookieOptions {
	var all []CookieOptions
	for _, mss := range cookieMSSTable {
		for ws := -1; ws <= MaxWindowScale; ws++ {
			for _, sack := range []bool{false, true} {
				o := CookieOptions{MSS: mss, SACKPermitted: sack}
				if ws >= 0 {
					o.WScale, o.HasWScale = uint8(ws), true
				}
				all = append(all, o)
			}
		}
	}
	return all
}

func TestSYNCookieRoundTrip(t *testing.T) {
	c := NewSYNCookies(testSecret(9))
	isn := Seq(123456789)
	for i, o := range allCookieOptions() {
		now := cookieNow.Add(time.Duration(i) * 1237 * time.Millisecond)
		cookie := c.Make(cookieLocal, cookieRemote, isn, o, now)
		ts := c.TSVal(o, now)
		if ts == 0 || int32(ts-uint32(now.UnixMilli())) > 0 || uint32(now.UnixMilli())-ts >= 64 {
			t.Fatalf("%+v: TSval %d, clock %d", o, ts, uint32(now.UnixMilli()))
		}
		// With timestamps: everything survives.
		got, ok := c.Check(cookieLocal, cookieRemote, isn, cookie, ts, true, now.Add(500*time.Millisecond))
		if !ok || got != o {
			t.Fatalf("with TS: Check = %+v %v, want %+v", got, ok, o)
		}
		// Without: only the MSS.
		got, ok = c.Check(cookieLocal, cookieRemote, isn, cookie, 0, false, now.Add(time.Second))
		if !ok || got != (CookieOptions{MSS: o.MSS}) {
			t.Fatalf("without TS: Check = %+v %v, want MSS %d", got, ok, o.MSS)
		}
	}
}

func TestSYNCookieMSSRoundsDown(t *testing.T) {
	c := NewSYNCookies(testSecret(9))
	for _, tc := range []struct{ mss, want uint16 }{
		{0, 64}, {40, 64}, {64, 64}, {535, 64}, {536, 536}, {1000, 536},
		{1219, 536}, {1220, 1220}, {1380, 1360}, {1400, 1360}, {1440, 1440},
		{1459, 1452}, {1460, 1460}, {1500, 1460}, {8960, 8960}, {65495, 8960},
	} {
		cookie := c.Make(cookieLocal, cookieRemote, 1, CookieOptions{MSS: tc.mss}, cookieNow)
		got, ok := c.Check(cookieLocal, cookieRemote, 1, cookie, 0, false, cookieNow)
		if !ok || got.MSS != tc.want {
			t.Errorf("MSS %d: recovered %d %v, want %d", tc.mss, got.MSS, ok, tc.want)
		}
	}
}

func TestSYNCookieWScaleClamped(t *testing.T) {
	c := NewSYNCookies(testSecret(9))
	o := CookieOptions{MSS: 1460, WScale: 200, HasWScale: true}
	cookie := c.Make(cookieLocal, cookieRemote, 1, o, cookieNow)
	got, ok := c.Check(cookieLocal, cookieRemote, 1, cookie, c.TSVal(o, cookieNow), true, cookieNow)
	if !ok || got.WScale != MaxWindowScale || !got.HasWScale {
		t.Errorf("got %+v %v", got, ok)
	}
}

func TestSYNCookieRejects(t *testing.T) {
	c := NewSYNCookies(testSecret(9))
	o := CookieOptions{MSS: 1460, WScale: 7, HasWScale: true, SACKPermitted: true}
	const isn = Seq(0xfffffff0)
	cookie := c.Make(cookieLocal, cookieRemote, isn, o, cookieNow)
	ts := c.TSVal(o, cookieNow)
	check := func(local, remote netip.AddrPort, isn, cookie Seq, ts uint32, hasTS bool, now time.Time) bool {
		_, ok := c.Check(local, remote, isn, cookie, ts, hasTS, now)
		return ok
	}
	if !check(cookieLocal, cookieRemote, isn, cookie, ts, true, cookieNow) {
		t.Fatal("valid cookie rejected")
	}
	other := func(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }
	for _, tc := range []struct {
		name          string
		local, remote netip.AddrPort
		isn           Seq
	}{
		{"other remote port", cookieLocal, other("198.51.100.7:40001"), isn},
		{"other remote address", cookieLocal, other("198.51.100.8:40000"), isn},
		{"other local port", other("192.0.2.1:81"), cookieRemote, isn},
		{"other local address", other("192.0.2.2:80"), cookieRemote, isn},
		{"swapped", cookieRemote, cookieLocal, isn},
		{"IPv6", other("[2001:db8::1]:80"), other("[2001:db8::2]:40000"), isn},
		{"other client ISN", cookieLocal, cookieRemote, isn + 1},
	} {
		if check(tc.local, tc.remote, tc.isn, cookie, ts, true, cookieNow) {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	// Every single-bit change of the cookie is detected.
	for b := range 32 {
		if check(cookieLocal, cookieRemote, isn, cookie^Seq(1)<<b, ts, true, cookieNow) {
			t.Errorf("cookie with bit %d flipped accepted", b)
		}
	}
	// Another secret.
	if _, ok := NewSYNCookies(testSecret(10)).Check(cookieLocal, cookieRemote, isn, cookie, ts, true, cookieNow); ok {
		t.Error("accepted under another secret")
	}
	// Bad timestamps: not a cookie's, from the future, too old.
	for _, bad := range []uint32{ts &^ cookieTSMark, ts + 10_000, ts - cookieTSMaxAge - 1, 0} {
		if check(cookieLocal, cookieRemote, isn, cookie, bad, true, cookieNow) {
			t.Errorf("echoed timestamp %d (sent %d) accepted", bad, ts)
		}
	}
}

// TestSYNCookieLifetime checks validity over time: the period the cookie
// was made in and the two after it, and nothing else, including 32
// periods later, when t mod 32 is the same again.
func TestSYNCookieLifetime(t *testing.T) {
	c := NewSYNCookies(testSecret(11))
	o := CookieOptions{MSS: 1460}
	for _, made := range []time.Time{
		cookieNow,
		time.Unix(32*64*1000-1, 0),  // last second before t mod 32 wraps to 0
		time.Unix(32*64*1000-65, 0), // one period before the wrap
		time.Unix(1<<32*64-1, 0),    // t itself wraps 2^32 -> 0 a second later
		time.Unix(-5, 0),            // before the epoch
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		cookie := c.Make(cookieLocal, cookieRemote, 42, o, made)
		period := made.Unix() >> 6 << 6 // start of the period
		for _, tc := range []struct {
			after int64 // seconds after the start of the period made in
			ok    bool
		}{
			{0, true}, {63, true}, {64, true}, {127, true}, {128, true}, {191, true},
			{192, false}, {1000, false}, {32 * 64, false}, {32*64 + 100, false}, {-1, false}, {-64 * 5, false},
		} {
			now := time.Unix(period+tc.after, 0)
			if now.Before(made) && tc.ok {
				continue
			}
			_, ok := c.Check(cookieLocal, cookieRemote, 42, cookie, 0, false, now)
			if ok != tc.ok {
				t.Errorf("made %v, checked %ds into its period: ok %v, want %v", made.Unix(), tc.after, ok, tc.ok)
			}
		}
	}
	// The ms timestamp clock wraps every 49.7 days: a cookie TSval made
	// just before its wrap is still accepted just after.
	made := time.UnixMilli(1<<32*5 - 10)
	ts := c.TSVal(o, made)
	cookie := c.Make(cookieLocal, cookieRemote, 42, o, made)
	if _, ok := c.Check(cookieLocal, cookieRemote, 42, cookie, ts, true, made.Add(20*time.Millisecond)); !ok {
		t.Errorf("TSval %d across the clock's wrap rejected", ts)
	}
}

// TestSYNCookieSpread checks that cookies for neighbouring tuples share
// the time and MSS bits and differ in their MAC.
func TestSYNCookieSpread(t *testing.T) {
	c := NewSYNCookies(testSecret(12))
	seen := map[uint32]bool{}
	var prefix uint32
	for p := range 1000 {
		cookie := uint32(c.Make(cookieLocal, netip.AddrPortFrom(cookieRemote.Addr(), uint16(p)), 7, CookieOptions{MSS: 1460}, cookieNow))
		if p == 0 {
			prefix = cookie >> 24
		}
		if cookie>>24 != prefix {
			t.Fatalf("port %d: top byte %x, want %x", p, cookie>>24, prefix)
		}
		seen[cookie&0xffffff] = true
	}
	if len(seen) < 990 {
		t.Errorf("only %d distinct MACs in 1000", len(seen))
	}
}

func TestSYNCookieAllocs(t *testing.T) {
	c := NewSYNCookies(testSecret(13))
	o := CookieOptions{MSS: 1460, SACKPermitted: true}
	n := testing.AllocsPerRun(100, func() {
		cookie := c.Make(cookieLocal, cookieRemote, 5, o, cookieNow)
		c.Check(cookieLocal, cookieRemote, 5, cookie, c.TSVal(o, cookieNow), true, cookieNow)
	})
	if n != 0 {
		t.Errorf("allocates %v", n)
	}
}

func BenchmarkSYNCookie(b *testing.B) {
	c := NewSYNCookies(testSecret(14))
	o := CookieOptions{MSS: 1460, WScale: 7, HasWScale: true, SACKPermitted: true}
	b.Run("Make", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Make(cookieLocal, cookieRemote, 5, o, cookieNow)
		}
	})
	cookie := c.Make(cookieLocal, cookieRemote, 5, o, cookieNow)
	ts := c.TSVal(o, cookieNow)
	b.Run("Check", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Check(cookieLocal, cookieRemote, 5, cookie, ts, true, cookieNow)
		}
	})
}
