package tcp

import (
	"math"
	"testing"
)

func TestSeqCompare(t *testing.T) {
	tests := []struct {
		a, b Seq
		less bool
	}{
		{0, 1, true},
		{1, 0, false},
		{math.MaxUint32, 0, true},      // wraps
		{math.MaxUint32 - 10, 5, true}, // across the wrap
		{5, math.MaxUint32 - 10, false},
		{0, 1 << 31, false}, // exactly half way: ambiguous, skipped below
		{0, 1<<31 - 1, true},
		{1<<31 + 5, 4, true}, // more than 2^31 ahead means behind
		{100, 100, false},
		{0x7fffffff, 0x80000000, true}, // the signed boundary is not special
		{0xfffffff0, 0x0000000f, true},
		{0x0000000f, 0xfffffff0, false},
	}
	for _, tt := range tests {
		if tt.a == 0 && tt.b == 1<<31 {
			// Numbers 2^31 apart are ambiguous; int32 arithmetic makes the
			// larger one precede: document rather than rely on it.
			continue
		}
		if got := tt.a.LessThan(tt.b); got != tt.less {
			t.Errorf("%v < %v = %v", tt.a, tt.b, got)
		}
		if got := tt.b.GreaterThan(tt.a); got != tt.less {
			t.Errorf("%v > %v = %v", tt.b, tt.a, got)
		}
		eq := tt.a == tt.b
		if got := tt.a.LessThanEq(tt.b); got != (tt.less || eq) {
			t.Errorf("%v <= %v = %v", tt.a, tt.b, got)
		}
		if got := tt.b.GreaterThanEq(tt.a); got != (tt.less || eq) {
			t.Errorf("%v >= %v = %v", tt.b, tt.a, got)
		}
	}
}

func TestSeqArithmetic(t *testing.T) {
	if got := Seq(math.MaxUint32).Add(1); got != 0 {
		t.Errorf("wrap add: %v", got)
	}
	if got := Seq(5).Add(-10); got != math.MaxUint32-4 {
		t.Errorf("negative add: %v", got)
	}
	if got := Seq(3).Sub(math.MaxUint32 - 1); got != 5 {
		t.Errorf("sub across wrap: %d", got)
	}
	if got := Seq(math.MaxUint32 - 1).Sub(3); got != -5 {
		t.Errorf("negative sub: %d", got)
	}
	if MaxSeq(math.MaxUint32, 2) != 2 || MinSeq(math.MaxUint32, 2) != math.MaxUint32 {
		t.Error("Max/Min across the wrap")
	}
	if Seq(4294967295).String() != "4294967295" {
		t.Error("String")
	}
}

func TestSeqWindows(t *testing.T) {
	tests := []struct {
		s, start Seq
		size     uint32
		in       bool
	}{
		{10, 10, 5, true},
		{14, 10, 5, true},
		{15, 10, 5, false},
		{9, 10, 5, false},
		{10, 10, 0, false},
		{2, math.MaxUint32 - 1, 10, true}, // window spans the wrap
		{7, math.MaxUint32 - 1, 10, true},
		{8, math.MaxUint32 - 1, 10, false},
		{math.MaxUint32 - 2, math.MaxUint32 - 1, 10, false},
		{0, 1, math.MaxUint32, false}, // the whole space but one
		{5, 1, math.MaxUint32, true},
	}
	for _, tt := range tests {
		if got := tt.s.InWindow(tt.start, tt.size); got != tt.in {
			t.Errorf("%v in [%v, +%d) = %v", tt.s, tt.start, tt.size, got)
		}
		end := tt.start.Add(int(tt.size))
		if got := tt.s.InRange(tt.start, end); got != tt.in && tt.size != math.MaxUint32 {
			t.Errorf("%v in [%v, %v) = %v", tt.s, tt.start, end, got)
		}
	}
	// SND.UNA < SEG.ACK =< SND.NXT is InRange(una+1, nxt+1).
	una, nxt := Seq(math.MaxUint32-2), Seq(3)
	for ack, want := range map[Seq]bool{una: false, una + 1: true, 0: true, 3: true, 4: false} {
		if got := ack.InRange(una.Add(1), nxt.Add(1)); got != want {
			t.Errorf("ack %v acceptable = %v", ack, got)
		}
	}
}

func TestAcceptable(t *testing.T) {
	nxt := Seq(math.MaxUint32 - 4) // the window crosses the wrap
	tests := []struct {
		name   string
		seq    Seq
		length uint32
		wnd    uint32
		want   bool
	}{
		{"empty, zero window, at RCV.NXT", nxt, 0, 0, true},
		{"empty, zero window, elsewhere", nxt + 1, 0, 0, false},
		{"empty, in window", nxt + 9, 0, 10, true},
		{"empty, right edge", nxt + 10, 0, 10, false},
		{"empty, before window", nxt - 1, 0, 10, false},
		{"data, zero window", nxt, 1, 0, false},
		{"data, start in window", nxt + 9, 100, 10, true},
		{"data, end in window (retransmit overlap)", nxt - 50, 51, 10, true},
		{"data, wholly old", nxt - 50, 50, 10, false},
		{"data, wholly beyond", nxt + 10, 5, 10, false},
		{"data, straddles window", nxt - 5, 100, 10, false}, // RFC test: neither end inside
	}
	for _, tt := range tests {
		if got := Acceptable(tt.seq, tt.length, nxt, tt.wnd); got != tt.want {
			t.Errorf("%s: %v", tt.name, got)
		}
	}
}
