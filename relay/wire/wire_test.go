package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
	"time"

	ds "netspace/dataspace"
	"netspace/ip"
	"netspace/tcp"
)

func TestRecordRoundTripTyped(t *testing.T) {
	in := &tcp.Channel{
		Src:  &tcp.Listener{Port: 8000},
		Dst:  &tcp.Address{Host: netip.MustParseAddr("192.0.2.1"), Port: 40000},
		Data: []byte("hello"),
	}
	b, err := AppendRecord(nil, in)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDecoder(b)
	out := d.Record()
	if d.Err() != nil || d.Len() != 0 {
		t.Fatalf("decode: %v, %d left", d.Err(), d.Len())
	}
	ch, ok := out.(*tcp.Channel)
	if !ok {
		t.Fatalf("decoded %T, want *tcp.Channel", out)
	}
	if _, ok := ch.Dst.(*tcp.Address); !ok {
		t.Fatalf("nested %T, want *tcp.Address", ch.Dst)
	}
	if !ds.RecordsEqual(in, out) {
		t.Fatalf("got %v, want %v", out, in)
	}
}

func TestValueKinds(t *testing.T) {
	l := ds.LookupLabel("tcp-handle")
	vals := []ds.Value{
		ds.Bool(true), ds.Bool(false), ds.Int(-5), ds.Uint(1 << 63), ds.String("x"),
		ds.Bytes([]byte{0, 1, 2}), ds.Addr(netip.MustParseAddr("198.18.0.1")),
		ds.Addr(netip.MustParseAddr("fe80::1%eth0")), ds.Addr(netip.Addr{}), ds.Value{},
		ds.Rec(ds.NewTuple(l, ds.String("id"))),
	}
	for _, v := range vals {
		b, err := AppendValue(nil, v)
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		d := NewDecoder(b)
		got := d.Value()
		if d.Err() != nil || !got.Equal(v) {
			t.Errorf("%v: got %v (%v)", v, got, d.Err())
		}
	}
	if _, err := AppendValue(nil, ds.Opaque(3)); !errors.Is(err, ErrOpaque) {
		t.Errorf("opaque: %v, want ErrOpaque", err)
	}
}

func TestPatternRoundTrip(t *testing.T) {
	pats := []*ds.Pattern{
		ds.RecordPattern(tcp.LabelChannel, ds.CaptureAny, tcp.ListenerPattern(7), ds.CaptureAny),
		ds.ObservePattern(ds.RecordPattern(tcp.LabelChannel, ds.Captured, ds.RecordPattern(tcp.LabelListener, ds.CaptureAny), ds.Discard)),
		ds.Lit(ds.Rec(&tcp.Listener{Port: 9})),
		ds.Capture(ds.RecordPattern(ip.LabelUDPListener, ds.Lit(ds.Int(53)))),
		ds.Discard,
	}
	for _, p := range pats {
		b, err := AppendPattern(nil, p)
		if err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		d := NewDecoder(b)
		got := d.Pattern()
		if d.Err() != nil || got.String() != p.String() {
			t.Errorf("got %v (%v), want %v", got, d.Err(), p)
		}
	}
}

func TestRefusals(t *testing.T) {
	good, _ := AppendRecord(nil, &tcp.Listener{Port: 80})
	cases := map[string][]byte{
		"empty":         {},
		"unknown tag":   {99},
		"unknown label": append([]byte{tagRecord}, appendString(nil, "no-such-label")...),
		"truncated":     good[:len(good)-1],
		"bad port":      mustTuple(t, tcp.LabelListener, ds.Int(70000)),
		"port kind":     mustTuple(t, tcp.LabelListener, ds.String("80")),
		"arity":         mustTuple(t, tcp.LabelListener, ds.Int(1), ds.Int(2)),
		"huge count":    {tagBytes, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range cases {
		d := NewDecoder(b)
		d.Value()
		if d.Err() == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Too deep.
	v := ds.Rec(&tcp.Listener{Port: 1})
	for i := 0; i < MaxDepth+2; i++ {
		v = ds.Rec(ds.NewTuple(tcp.LabelHandle, v))
	}
	if _, err := AppendValue(nil, v); err == nil {
		t.Error("encoded a value nested too deeply")
	}
}

func mustTuple(t *testing.T, l *ds.Label, f ...ds.Value) []byte {
	b := appendString([]byte{tagRecord}, l.Name)
	b = append(b, byte(len(f)))
	for _, v := range f {
		var err error
		if b, err = AppendValue(b, v); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func TestFrames(t *testing.T) {
	frames := []any{
		&Hello{Token: "t", Reply: "unix:/x", ReplyID: "inbox", Secret: "s", Pin: []byte{1, 2}, Name: "echo"},
		&Welcome{Session: "s1", Prefix: "p/", Interval: time.Second, Timeout: 3 * time.Second, Window: 1 << 20},
		&Refused{Reason: "no"},
		&Batch{Actor: 3, Name: "a", Ops: []Op{
			{Kind: OpObserve, ID: 1, Pattern: tcp.ChannelFrom(tcp.ListenerPattern(7))},
			{Kind: OpAssert, ID: 2, Record: &tcp.Listening{Port: 7}},
			{Kind: OpRetract, ID: 2},
			{Kind: OpSend, Record: &tcp.Consumed{Remote: &tcp.Listener{Port: 1}, Local: &tcp.Listener{Port: 7}, N: 10}},
			{Kind: OpUnobserve, ID: 1},
			{Kind: OpStop},
		}},
		&Event{Actor: 3, Sub: 1, Kind: EvAdded, Caps: []ds.Value{ds.Int(1), ds.String("x")}},
		&Event{Actor: 3, Sub: 1, Kind: EvMessage, Msg: &tcp.Writable{Remote: &tcp.Listener{Port: 1}, Local: &tcp.Listener{Port: 7}, N: 5}},
		&ActorEnd{Actor: 3, Reason: "refused"},
		&Heartbeat{Acked: 12345},
		&Bye{Reason: "bye"},
	}
	for _, f := range frames {
		b, err := Encode(f)
		if err != nil {
			t.Fatalf("%T: %v", f, err)
		}
		g, err := Decode(b, nil)
		if err != nil {
			t.Fatalf("%T: %v", f, err)
		}
		b2, err := Encode(g)
		if err != nil || !bytes.Equal(b, b2) {
			t.Errorf("%T: re-encoding differs (%v)", f, err)
		}
		// Every truncation is refused, never a panic.
		for i := 0; i < len(b); i++ {
			if _, err := Decode(b[:i], nil); err == nil {
				t.Errorf("%T truncated to %d accepted", f, i)
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, fr := range []any{
		&Batch{Actor: 1, Ops: []Op{{Kind: OpObserve, ID: 1, Pattern: tcp.ChannelFrom(tcp.ListenerPattern(7))}}},
		&Event{Actor: 1, Sub: 1, Kind: EvMessage, Msg: &tcp.Channel{Src: &tcp.Listener{Port: 7}, Dst: &tcp.Listener{Port: 8}, Data: []byte("x")}},
		&Hello{Token: "x"},
	} {
		b, _ := Encode(fr)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := Decode(b, nil)
		if err != nil {
			return
		}
		// What decodes re-encodes.
		if _, err := Encode(fr); err != nil {
			t.Fatalf("decoded %T does not encode: %v", fr, err)
		}
	})
}

func TestTokenTable(t *testing.T) {
	var tt TokenTable
	tt.Add("a", "secret-a")
	tt.Add("b", "secret-b")
	if id, ok := tt.Check("secret-b"); !ok || id != "b" {
		t.Errorf("secret-b: %q %v", id, ok)
	}
	for _, bad := range []string{"", "secret", "secret-c"} {
		if _, ok := tt.Check(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseAddr(t *testing.T) {
	for s, want := range map[string]Addr{
		"unix:/run/netspace.sock": {"unix", "/run/netspace.sock"},
		"tcp:127.0.0.1:7000":      {"tcp", "127.0.0.1:7000"},
	} {
		got, err := ParseAddr(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	for _, bad := range []string{"", "unix:", "tcp:nohost", "udp:1.2.3.4:5", "/path"} {
		if _, err := ParseAddr(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEncodeBatchSplits(t *testing.T) {
	data := make([]byte, 200<<10)
	b := &Batch{Actor: 9, Name: "big"}
	for i := 0; i < 10; i++ {
		b.Ops = append(b.Ops, Op{Kind: OpSend, Record: &tcp.Channel{Src: &tcp.Listener{Port: 1}, Dst: &tcp.Listener{Port: 2}, Data: data}})
	}
	frames, err := EncodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(frames) < 5 {
		t.Fatalf("2 MB of actions in %d frames", len(frames))
	}
	var ops []Op
	for i, f := range frames {
		if len(f) > MaxFrame {
			t.Fatalf("frame %d: %d bytes", i, len(f))
		}
		g, err := Decode(f, nil)
		if err != nil {
			t.Fatal(err)
		}
		bt := g.(*Batch)
		if bt.More != (i < len(frames)-1) || (i == 0) != (bt.Name == "big") || bt.Actor != 9 {
			t.Fatalf("frame %d: more %v name %q actor %d", i, bt.More, bt.Name, bt.Actor)
		}
		ops = append(ops, bt.Ops...)
	}
	if len(ops) != 10 {
		t.Fatalf("%d ops after reassembly", len(ops))
	}
	// One turn over the limit is refused.
	huge := &Batch{Actor: 1}
	for i := 0; i < MaxTurnBytes/len(data)+2; i++ {
		huge.Ops = append(huge.Ops, b.Ops[0])
	}
	if _, err := EncodeBatch(huge); err == nil {
		t.Fatal("a turn over MaxTurnBytes encoded")
	}
	// A small turn is one frame, the same as Encode's.
	one, _ := EncodeBatch(&Batch{Actor: 2, Name: "x", Ops: b.Ops[:0]})
	direct, _ := Encode(&Batch{Actor: 2, Name: "x"})
	if len(one) != 1 || !bytes.Equal(one[0], direct) {
		t.Fatal("a small turn differs from Encode's frame")
	}
}
