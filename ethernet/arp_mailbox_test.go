package ethernet

import (
	"testing"
	"time"

	"netspace/actors"
)

// A burst of ARP packets larger than the mailbox bound is cut at the
// bound; the rest are dropped and counted, not queued.
func TestARPMailboxBound(t *testing.T) {
	sys := actors.NewSystem(actors.Deterministic())
	t.Cleanup(func() { _ = sys.Close(time.Second) })
	var a *actors.Actor
	var stats *ARPStats
	sys.Spawn("harness", func(t *actors.Turn) {
		a, stats = SpawnARP(t, ARPConfig{Iface: "eth0", MAC: arpOurMAC, MessageLimit: 4})
	})
	wire := sys.Spawn("wire", func(t *actors.Turn) { t.Assert(&ARPLocal{Iface: "eth0", IP: arpOurIP}) })
	sys.Quiesce()
	// Ten requests sent in one turn reach the mailbox before the ARP
	// actor runs.
	wire.Inject(func(t *actors.Turn) {
		for i := range 10 {
			body := arpBytes(ARPRequest, senderMAC(i), senderIP(i), MAC{}, arpOurIP)
			t.Send(&Packet{Iface: "eth0", FromWire: true, Src: senderMAC(i), Dst: Broadcast, Type: EtherTypeARP, Body: body})
		}
	})
	sys.Quiesce()
	if in, dropped := stats.RequestsIn.Load(), a.Dropped(); in != 4 || dropped != 6 {
		t.Fatalf("RequestsIn %d, dropped %d; want 4 handled and 6 dropped at the bound of 4", in, dropped)
	}
}
