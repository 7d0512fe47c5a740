package tcp

import (
	"bytes"
	"errors"
	"testing"
)

func TestParseOptionsValid(t *testing.T) {
	tests := []struct {
		name string
		b    []byte
		want Options
	}{
		{"empty", nil, Options{}},
		{"EOL stops", []byte{OptionEOL, OptionMSS, 1, 0xff}, Options{}},
		{"NOPs", []byte{1, 1, 1, 1}, Options{}},
		{"MSS", []byte{2, 4, 0x05, 0xb4}, Options{MSS: 1460, HasMSS: true}},
		{"WS then EOL", []byte{1, 3, 3, 14, 0, 9, 9, 9}, Options{WScale: 14, HasWScale: true}},
		{"WS above 14 kept raw", []byte{3, 3, 15, 0}, Options{WScale: 15, HasWScale: true}},
		{"SACK-permitted", []byte{1, 1, 4, 2}, Options{SACKPermitted: true}},
		{"timestamps", []byte{1, 1, 8, 10, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff},
			Options{TSVal: 1, TSEcr: 0xffffffff, HasTS: true}},
		{"one SACK block", []byte{1, 1, 5, 10, 0, 0, 0, 10, 0, 0, 0, 20},
			Options{SACK: [4]Block{{10, 20}}, NumSACK: 1}},
		{"four SACK blocks", append([]byte{1, 1, 5, 34}, bytes.Repeat([]byte{0, 0, 0, 1}, 8)...),
			Options{SACK: [4]Block{{1, 1}, {1, 1}, {1, 1}, {1, 1}}, NumSACK: 4}},
		{"unknown option skipped", []byte{30, 6, 1, 2, 3, 4, 2, 4, 0, 100}, Options{MSS: 100, HasMSS: true}},
		{"unknown option of length 2", []byte{254, 2, 2, 4, 0, 100}, Options{MSS: 100, HasMSS: true}},
		{"last wins", []byte{2, 4, 0, 1, 2, 4, 0, 2}, Options{MSS: 2, HasMSS: true}},
		{"option fills area exactly", []byte{1, 2, 4, 0, 2}, Options{MSS: 2, HasMSS: true}},
	}
	for _, tt := range tests {
		var o Options
		o.MSS = 9999 // ParseOptions must reset o
		if err := ParseOptions(tt.b, &o); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if o != tt.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.name, o, tt.want)
		}
	}
}

func TestParseOptionsErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"length byte missing", []byte{1, 1, 1, OptionMSS}},
		{"unknown kind, length byte missing", []byte{99}},
		{"length 0", []byte{99, 0, 0, 0}},
		{"length 1", []byte{OptionMSS, 1, 0, 0}},
		{"length past area", []byte{OptionMSS, 4, 0}},
		{"unknown past area", []byte{99, 10, 0, 0}},
		{"MSS length 3", []byte{OptionMSS, 3, 0, 0}},
		{"MSS length 5", []byte{OptionMSS, 5, 0, 0, 0}},
		{"WS length 4", []byte{OptionWindowScale, 4, 0, 0}},
		{"WS length 2", []byte{OptionWindowScale, 2, 0, 0}},
		{"SACK-permitted length 3", []byte{OptionSACKPermitted, 3, 0, 0}},
		{"TS length 8", []byte{OptionTimestamps, 8, 0, 0, 0, 0, 0, 0}},
		{"TS length 12", append([]byte{OptionTimestamps, 12}, make([]byte, 10)...)},
		{"SACK length 2", []byte{OptionSACK, 2, 0, 0}},
		{"SACK length 9", append([]byte{OptionSACK, 9}, make([]byte, 7)...)},
		{"SACK five blocks", append([]byte{OptionSACK, 42}, make([]byte, 40)...)},
		{"valid then bad", []byte{2, 4, 0, 1, 3, 0}},
	} {
		var o Options
		err := ParseOptions(tt.b, &o)
		if !errors.Is(err, ErrBadOption) {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
}

func TestPutOptionsLayouts(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want []byte
	}{
		{"none", Options{}, []byte{}},
		{"Linux SYN", Options{MSS: 1460, HasMSS: true, SACKPermitted: true, HasTS: true, TSVal: 0x01020304, WScale: 7, HasWScale: true},
			[]byte{2, 4, 5, 0xb4, 4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0, 1, 3, 3, 7}},
		{"SYN without timestamps", Options{MSS: 1460, HasMSS: true, SACKPermitted: true, WScale: 2, HasWScale: true},
			[]byte{2, 4, 5, 0xb4, 1, 1, 4, 2, 1, 3, 3, 2}},
		{"timestamps only", Options{HasTS: true, TSVal: 5, TSEcr: 6},
			[]byte{1, 1, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6}},
		{"timestamps and 3 SACK blocks", Options{HasTS: true, NumSACK: 4, SACK: [4]Block{{1, 2}, {3, 4}, {5, 6}, {7, 8}}},
			[]byte{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 5, 26,
				0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5, 0, 0, 0, 6}},
		{"4 SACK blocks", Options{NumSACK: 4, SACK: [4]Block{{1, 2}, {3, 4}, {5, 6}, {7, 8}}},
			[]byte{1, 1, 5, 34, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4,
				0, 0, 0, 5, 0, 0, 0, 6, 0, 0, 0, 7, 0, 0, 0, 8}},
		{"NumSACK out of range", Options{NumSACK: 9}, []byte{1, 1, 5, 34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"everything: no room for SACK", Options{MSS: 1, HasMSS: true, SACKPermitted: true, HasTS: true, HasWScale: true, NumSACK: 1},
			[]byte{2, 4, 0, 1, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 0, 1, 1, 5, 10, 0, 0, 0, 0, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		if OptionsLen(&tt.o) != len(tt.want) {
			t.Errorf("%s: OptionsLen %d, want %d", tt.name, OptionsLen(&tt.o), len(tt.want))
			continue
		}
		b := make([]byte, len(tt.want))
		if n := PutOptions(b, &tt.o); n != len(tt.want) || !bytes.Equal(b, tt.want) {
			t.Errorf("%s:\n got % x\nwant % x", tt.name, b[:n], tt.want)
		}
		if len(b)%4 != 0 || len(b) > MaxOptionsLen {
			t.Errorf("%s: length %d", tt.name, len(b))
		}
		var back Options
		if err := ParseOptions(b, &back); err != nil {
			t.Errorf("%s: parse: %v", tt.name, err)
		}
	}
}

func TestPutOptionsShortBufferPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	o := Options{HasTS: true}
	PutOptions(make([]byte, 11, 64), &o)
}
