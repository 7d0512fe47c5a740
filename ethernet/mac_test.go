package ethernet

import (
	"errors"
	"testing"
)

func TestMACStringParse(t *testing.T) {
	m := MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	if got := m.String(); got != "02:00:00:00:00:01" {
		t.Fatalf("String = %q", got)
	}
	for _, s := range []string{"02:00:00:00:00:01", "02-00-00-00-00-01"} {
		got, err := ParseMAC(s)
		if err != nil || got != m {
			t.Errorf("ParseMAC(%q) = %v, %v", s, got, err)
		}
	}
	got, err := ParseMAC("AA:bb:Cc:dD:ee:FF")
	if err != nil || got != (MAC{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff}) {
		t.Errorf("mixed case: %v, %v", got, err)
	}
	for _, s := range []string{
		"", "02:00:00:00:00", "02:00:00:00:00:01:", "02:00:00-00:00:01",
		"0g:00:00:00:00:01", "02.00.00.00.00.01", "0200:00:00:00:01x", "2:00:00:00:00:001",
	} {
		if _, err := ParseMAC(s); !errors.Is(err, ErrBadMAC) {
			t.Errorf("ParseMAC(%q) err = %v, want ErrBadMAC", s, err)
		}
	}
}

func TestMACText(t *testing.T) {
	m := MAC{0xde, 0xad, 0xbe, 0xef, 0x00, 0x01}
	txt, err := m.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back MAC
	if err := back.UnmarshalText(txt); err != nil || back != m {
		t.Fatalf("round trip: %v, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("nope")); err == nil {
		t.Fatal("UnmarshalText accepted garbage")
	}
	b, _ := m.AppendText([]byte("mac="))
	if string(b) != "mac=de:ad:be:ef:00:01" {
		t.Fatalf("AppendText = %q", b)
	}
}

func TestMACClasses(t *testing.T) {
	tests := []struct {
		m                                    MAC
		broadcast, multicast, unicast, local bool
	}{
		{Broadcast, true, true, false, true},
		{MAC{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}, false, true, false, false},
		{MAC{0x33, 0x33, 0x00, 0x00, 0x00, 0x01}, false, true, false, true},
		{MAC{0x02, 0, 0, 0, 0, 1}, false, false, true, true},
		{MAC{0x00, 0x1b, 0x21, 0x3c, 0x4d, 0x5e}, false, false, true, false},
	}
	for _, tt := range tests {
		if tt.m.IsBroadcast() != tt.broadcast || tt.m.IsMulticast() != tt.multicast ||
			tt.m.IsUnicast() != tt.unicast || tt.m.IsLocallyAdministered() != tt.local {
			t.Errorf("%v: got b=%v m=%v u=%v l=%v", tt.m, tt.m.IsBroadcast(), tt.m.IsMulticast(),
				tt.m.IsUnicast(), tt.m.IsLocallyAdministered())
		}
	}
	if !(MAC{}).IsZero() || Broadcast.IsZero() {
		t.Error("IsZero")
	}
}

func TestLocallyAdministered(t *testing.T) {
	for _, seed := range []uint64{0, 1, ^uint64(0), 0x0123456789abcdef, 0xffff_0100_0000_0000} {
		m := LocallyAdministered(seed)
		if !m.IsUnicast() || !m.IsLocallyAdministered() {
			t.Errorf("seed %#x: %v is not locally administered unicast", seed, m)
		}
		if m[5] != byte(seed) || m[1] != byte(seed>>32) {
			t.Errorf("seed %#x: %v does not carry the seed bits", seed, m)
		}
	}
	if got := LocallyAdministered(0x0123456789ab); got != (MAC{0x03 &^ 1, 0x23, 0x45, 0x67, 0x89, 0xab}) {
		t.Errorf("got %v", got)
	}
}

func TestMACStringAllocs(t *testing.T) {
	m := MAC{1, 2, 3, 4, 5, 6}
	if n := testing.AllocsPerRun(100, func() { _ = m.String() }); n > 1 {
		t.Errorf("String allocates %v times", n)
	}
}
