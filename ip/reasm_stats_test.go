package ip

import (
	"testing"
	"time"
)

// The reassembly gauges and counters in Stats follow the reassembler: a
// flood of first fragments is held to MaxDatagrams and MaxBytes, the
// excess evicted and counted, and what is left is reclaimed at the
// timeout.
func TestIPReassemblyStats(t *testing.T) {
	const maxBytes = 16 << 10
	r, st := newIPActorRig(t, Config{Reassembly: ReassemblyConfig{MaxDatagrams: 4, MaxBytes: maxBytes, Timeout: time.Second}})
	r.listen(rigProto)
	for id := range 10 {
		h := IPv4Fields{ID: uint16(id), TTL: 64, Protocol: rigProto, Src: rigPeerIP, Dst: rigOurIP, Flags: FlagMF}
		payload := rigBytes(1480, byte(id))
		h.TotalLen = uint16(IPv4MinHeaderLen + len(payload))
		f := make([]byte, h.TotalLen)
		PutIPv4Header(f, &h)
		copy(f[IPv4MinHeaderLen:], payload)
		r.fromWire(f)
		if b := st.ReasmBytes.Load(); b <= 0 || b > maxBytes || st.ReasmPeakBytes.Load() < b {
			t.Fatalf("after %d fragments: ReasmBytes %d, peak %d; want in (0, %d] and peak ≥ it", id+1, b, st.ReasmPeakBytes.Load(), maxBytes)
		}
	}
	if n, ev := st.ReasmDatagrams.Load(), st.ReasmEvicted.Load(); n > 4 || n+int64(ev) != 10 {
		t.Fatalf("ReasmDatagrams %d, ReasmEvicted %d; want at most 4 in progress, the rest evicted", n, ev)
	}
	held := st.ReasmDatagrams.Load()
	r.sys.Advance(time.Second)
	if n, b, to := st.ReasmDatagrams.Load(), st.ReasmBytes.Load(), st.ReasmTimeouts.Load(); n != 0 || b != 0 || to != uint64(held) {
		t.Fatalf("after the timeout: ReasmDatagrams %d, ReasmBytes %d, ReasmTimeouts %d; want 0, 0, %d", n, b, to, held)
	}
	if st.ReasmPeakBytes.Load() == 0 {
		t.Fatal("ReasmPeakBytes forgot the peak")
	}
}
