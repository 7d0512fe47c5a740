package drivers

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"netspace/actors"
)

var epoch = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// captureExchange captures, on end a of a wire, three frames a sends and two
// it receives, 10 ms apart on a manual clock, and returns the pcap stream and
// the frames in capture order.
func captureExchange(t *testing.T) ([]byte, [][]byte) {
	t.Helper()
	clock := actors.NewManualClock(epoch)
	a, b := NewWire(WireConfig{})
	var file bytes.Buffer
	ca := Capture(a, &file, 0, CaptureClock(clock))
	if err := ca.Start(func([][]byte) {}); err != nil {
		t.Fatal(err)
	}
	b.Start(func([][]byte) {})
	var order [][]byte
	for i := range 3 {
		f := frame(uint32(i), 60+i*500)
		order = append(order, f)
		if err := ca.Send([][]byte{f}); err != nil {
			t.Fatal(err)
		}
		clock.Advance(10 * time.Millisecond)
	}
	for i := range 2 {
		f := frame(uint32(100+i), 1514)
		copy(f[6:12], []byte{0x02, 0, 0, 0, 0, 0xb}) // from b's MAC
		order = append(order, f)
		b.Send([][]byte{f})
		clock.Advance(10 * time.Millisecond)
	}
	if st := ca.CaptureStats(); st.Frames != 5 || st.Errors != 0 {
		t.Errorf("CaptureStats() = %+v, want 5 frames, no errors", st)
	}
	if err := ca.Close(); err != nil {
		t.Fatal(err)
	}
	b.Close()
	return file.Bytes(), order
}

func TestCaptureReadBack(t *testing.T) {
	file, want := captureExchange(t)
	r, err := pcapgo.NewReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet || r.Snaplen() != DefaultSnaplen {
		t.Errorf("link type %v, snaplen %d", r.LinkType(), r.Snaplen())
	}
	for i, w := range want {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !bytes.Equal(data, w) || ci.Length != len(w) {
			t.Errorf("record %d: %d bytes (length %d), want %d bytes", i, len(data), ci.Length, len(w))
		}
		if ts := epoch.Add(time.Duration(i) * 10 * time.Millisecond); !ci.Timestamp.Equal(ts) {
			t.Errorf("record %d at %v, want %v", i, ci.Timestamp, ts)
		}
	}
	if _, _, err := r.ReadPacketData(); err != io.EOF {
		t.Errorf("after the last record: %v, want EOF", err)
	}
}

func TestCaptureTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed: skipping the check that it reads our files")
	}
	file, want := captureExchange(t)
	path := filepath.Join(t.TempDir(), "exchange.pcap")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tcpdump, "-r", path, "-nn").Output()
	if err != nil {
		t.Fatalf("tcpdump -r: %v\n%s", err, out)
	}
	// One line per frame, each followed by a hex dump of its unknown
	// EtherType, indented.
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && l[0] != ' ' && l[0] != '\t' {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(want) {
		t.Errorf("tcpdump printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
}

func TestCaptureSnaplen(t *testing.T) {
	a, b := NewWire(WireConfig{})
	b.Start(func([][]byte) {})
	var file bytes.Buffer
	ca := Capture(a, &file, 64)
	ca.Send([][]byte{frame(1, 100)})
	r, err := pcapgo.NewReader(&file)
	if err != nil {
		t.Fatal(err)
	}
	data, ci, err := r.ReadPacketData()
	if err != nil {
		t.Fatal(err)
	}
	if ci.CaptureLength != 64 || ci.Length != 100 || !bytes.Equal(data, frame(1, 100)[:64]) {
		t.Errorf("captured %d of %d bytes, want 64 of 100", ci.CaptureLength, ci.Length)
	}
	if st := ca.CaptureStats(); st.Bytes != 64 {
		t.Errorf("CaptureStats().Bytes = %d, want 64", st.Bytes)
	}
}

// failWriter fails every write after the first n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		return 0, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestCaptureWriteErrorsAreCounted(t *testing.T) {
	a, b := NewWire(WireConfig{})
	ca := Capture(a, &failWriter{n: 24}, 0) // room for the header only
	got := 0
	ca.Start(func(f [][]byte) { got += len(f) })
	b.Start(func([][]byte) {})
	if err := ca.Send([][]byte{frame(1, 60), frame(2, 60)}); err != nil {
		t.Errorf("Send through a failing capture: %v", err)
	}
	b.Send([][]byte{frame(3, 60)})
	if got != 1 || b.Stats().RxFrames != 2 {
		t.Errorf("data path hurt: a got %d, b got %d", got, b.Stats().RxFrames)
	}
	if st := ca.CaptureStats(); st.Errors != 3 || st.Frames != 0 {
		t.Errorf("CaptureStats() = %+v, want 3 errors", st)
	}
	broken := Capture(a, &failWriter{}, 0)
	broken.Send([][]byte{frame(4, 60)})
	if st := broken.CaptureStats(); st.Errors != 2 {
		t.Errorf("header failure then one frame: %+v, want 2 errors", st)
	}
}

// playAll starts p with a recorder and waits (up to 5 s) for Done.
func playAll(t *testing.T, p *PlaybackLink) *recorder {
	t.Helper()
	r := new(recorder)
	if err := p.Start(r.rx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("playback did not finish within 5 s")
	}
	return r
}

func TestPlayback(t *testing.T) {
	file, want := captureExchange(t)
	p, err := Playback(bytes.NewReader(file), PlaybackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := playAll(t, p)
	if !slices.EqualFunc(r.frames, want, bytes.Equal) {
		t.Errorf("played %d frames, want the %d captured, in order", len(r.frames), len(want))
	}
	if !slices.Equal(r.bursts, []int{5}) {
		t.Errorf("bursts %v, want [5]", r.bursts)
	}
	if err := p.Err(); err != nil {
		t.Errorf("Err() at end of file = %v", err)
	}
	if st := p.Stats(); st.RxFrames != 5 {
		t.Errorf("Stats() = %+v", st)
	}
	p.Close()
}

func TestPlaybackFilterAndSend(t *testing.T) {
	file, want := captureExchange(t)
	fromB := FromMAC([6]byte{0x02, 0, 0, 0, 0, 0xb})
	p, err := Playback(bytes.NewReader(file), PlaybackOptions{Filter: fromB, Record: 1, Batch: 1})
	if err != nil {
		t.Fatal(err)
	}
	r := playAll(t, p)
	if !slices.EqualFunc(r.frames, want[3:], bytes.Equal) || p.Filtered() != 3 {
		t.Errorf("played %d frames (%d filtered), want the 2 from b", len(r.frames), p.Filtered())
	}
	if !slices.Equal(r.bursts, []int{1, 1}) {
		t.Errorf("bursts %v with Batch 1", r.bursts)
	}
	p.Send([][]byte{frame(7, 60), frame(8, 60)})
	if sent := p.Sent(); len(sent) != 1 || seqOf(sent[0]) != 7 {
		t.Errorf("Sent() kept %d frames, want the first one", len(sent))
	}
	if st := p.Stats(); st.TxFrames != 2 || st.TxBytes != 120 {
		t.Errorf("Stats() = %+v", st)
	}
}

func TestPlaybackPaced(t *testing.T) {
	file, _ := captureExchange(t) // frames 10 ms apart
	clock := actors.NewManualClock(time.Unix(1000, 0))
	p, err := Playback(bytes.NewReader(file), PlaybackOptions{Pace: true, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	r := new(recorder)
	p.Start(r.rx)
	if r.count() != 0 {
		t.Fatal("delivered inside Start")
	}
	clock.Advance(0)
	if got := r.seqs(); !slices.Equal(got, []uint32{0}) {
		t.Fatalf("at 0 ms: %v, want [0]", got)
	}
	clock.Advance(9 * time.Millisecond)
	if r.count() != 1 {
		t.Fatalf("at 9 ms: %d frames, want 1", r.count())
	}
	clock.Advance(time.Millisecond)
	if r.count() != 2 {
		t.Fatalf("at 10 ms: %d frames, want 2", r.count())
	}
	clock.Advance(25 * time.Millisecond) // two more fall due, each at its time
	if !slices.Equal(r.seqs(), []uint32{0, 1, 2, 100}) || !slices.Equal(r.bursts, []int{1, 1, 1, 1}) {
		t.Fatalf("at 35 ms: %v in %v", r.seqs(), r.bursts)
	}
	select {
	case <-p.Done():
		t.Fatal("Done before the last frame")
	default:
	}
	clock.Advance(5 * time.Millisecond)
	select {
	case <-p.Done():
	default:
		t.Fatal("Done not closed after the last frame")
	}
	if r.count() != 5 || clock.Pending() != 0 {
		t.Errorf("%d frames, %d timers pending", r.count(), clock.Pending())
	}
}

func TestPlaybackCloseStopsPacedDelivery(t *testing.T) {
	file, _ := captureExchange(t)
	clock := actors.NewManualClock(time.Unix(1000, 0))
	p, _ := Playback(bytes.NewReader(file), PlaybackOptions{Pace: true, Clock: clock})
	r := new(recorder)
	p.Start(r.rx)
	clock.Advance(0)
	p.Close()
	clock.Advance(time.Second)
	if r.count() != 1 || clock.Pending() != 0 {
		t.Errorf("after Close: %d frames, %d timers", r.count(), clock.Pending())
	}
	if err := p.Send(nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}

// writePcap writes records with the given stored and original lengths
// under the given snaplen.
func writePcap(t *testing.T, snaplen uint32, stored, orig []int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := pcapgo.NewWriter(&buf)
	w.WriteFileHeader(snaplen, layers.LinkTypeEthernet)
	for i := range stored {
		ci := gopacket.CaptureInfo{Timestamp: epoch, CaptureLength: stored[i], Length: orig[i]}
		if err := w.WritePacket(ci, frame(uint32(i), stored[i])); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func TestPlaybackAsStored(t *testing.T) {
	// One record longer than the file's snaplen, one truncated by it.
	file := writePcap(t, 64, []int{100, 64}, []int{100, 1514})
	p, err := Playback(bytes.NewReader(file), PlaybackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := playAll(t, p)
	if len(r.frames) != 2 || len(r.frames[0]) != 100 || len(r.frames[1]) != 64 {
		t.Errorf("delivered %d frames, want a 100-byte and a 64-byte one", len(r.frames))
	}
	if p.Err() != nil {
		t.Errorf("Err() = %v", p.Err())
	}
}

func TestPlaybackBadFiles(t *testing.T) {
	if _, err := Playback(bytes.NewReader([]byte("not a pcap file at all, really")), PlaybackOptions{}); err == nil {
		t.Error("Playback of garbage succeeded")
	}
	var raw bytes.Buffer
	pcapgo.NewWriter(&raw).WriteFileHeader(65536, layers.LinkTypeRaw)
	if _, err := Playback(&raw, PlaybackOptions{}); err == nil {
		t.Error("Playback of a raw-IP capture succeeded")
	}
	file := writePcap(t, 65536, []int{60, 60}, []int{60, 60})
	p, err := Playback(bytes.NewReader(file[:len(file)-10]), PlaybackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := playAll(t, p)
	if r.count() != 1 || p.Err() == nil {
		t.Errorf("truncated file: %d frames, Err() = %v; want 1 frame and an error", r.count(), p.Err())
	}
}

func TestPlaybackPacedBurst(t *testing.T) {
	// Frames captured at the same instant are delivered together.
	file := writePcap(t, 65536, []int{60, 60, 60}, []int{60, 60, 60})
	clock := actors.NewManualClock(time.Unix(1000, 0))
	p, err := Playback(bytes.NewReader(file), PlaybackOptions{Pace: true, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	r := new(recorder)
	p.Start(r.rx)
	clock.Advance(0)
	if !slices.Equal(r.bursts, []int{3}) {
		t.Errorf("bursts %v, want [3]", r.bursts)
	}
	select {
	case <-p.Done():
	default:
		t.Error("Done not closed at the end of the file")
	}
}

func TestCaptureConcurrent(t *testing.T) {
	// Senders on both ends and the receive path write into one stream;
	// every record must come out whole.
	a, b := NewWire(WireConfig{})
	var file bytes.Buffer
	ca := Capture(a, &file, 0)
	ca.Start(func([][]byte) {})
	b.Start(func([][]byte) {})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if g%2 == 0 {
					ca.Send([][]byte{frame(uint32(i), 60+i)})
				} else {
					b.Send([][]byte{frame(uint32(i), 60+i)})
				}
			}
		}()
	}
	wg.Wait()
	ca.Close()
	r, err := pcapgo.NewReader(&file)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		data, _, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("record %d: %v", n, err)
		}
		if want := frame(seqOf(data), len(data)); !bytes.Equal(data, want) {
			t.Fatalf("record %d is garbled", n)
		}
		n++
	}
	if n != 800 || ca.CaptureStats().Frames != 800 {
		t.Errorf("%d records, stats %+v; want 800", n, ca.CaptureStats())
	}
}
