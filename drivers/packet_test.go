//go:build linux

package drivers_test

import (
	"errors"
	"net"
	"testing"

	"netspace/drivers"
	"netspace/test/nettest"
)

func TestPacket(t *testing.T) {
	ns := nettest.NewNamespace(t)
	// veth-k is the kernel's end, with the address; veth-s is the stack's,
	// without one.
	ns.CreateVeth("veth-k", "veth-s")
	ns.MustRun(t, "ip", "addr", "add", "192.0.2.1/24", "dev", "veth-k")
	p, err := ns.OpenPacket("veth-s")
	if err != nil {
		t.Fatal(err)
	}
	var ifi *net.Interface
	if err := ns.Do(func() (err error) {
		ifi, err = net.InterfaceByName("veth-s")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	own := p.HardwareAddr()
	if net.HardwareAddr(own[:]).String() != ifi.HardwareAddr.String() {
		t.Errorf("HardwareAddr() = %x, want %v", own, ifi.HardwareAddr)
	}
	if p.Name() != "veth-s" || p.MTU() != 1500 {
		t.Errorf("Name, MTU = %q, %d", p.Name(), p.MTU())
	}
	rx, frames := collect(256)
	if err := p.Start(rx); err != nil {
		t.Fatal(err)
	}

	sendUDPFromKernel(t, ns, absentIP, 100)
	req := awaitARPRequest(t, frames, absentIP)
	if req.spa != kernelIP {
		t.Errorf("ARP request from %v, want %v", req.spa, kernelIP)
	}
	answerARP(t, ns, p.Send, req)
	awaitUDP(t, frames, madeUp, 100)

	// PACKET_IGNORE_OUTGOING: neither our reply nor anything the kernel
	// sends out of veth-s (IPv6 neighbour discovery, say) comes back.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	for len(frames) > 0 { // the reader has stopped: what is queued is all there is
		f := <-frames
		if src := [6]byte(f[6:12]); src == madeUp || src == own {
			t.Errorf("received an outgoing frame from %x", src)
		}
	}
	st := p.Stats()
	if st.TxFrames != 1 || st.RxFrames < 2 || st.RxErrors != 0 || st.TxErrors != 0 {
		t.Errorf("Stats() = %+v", st)
	}
	if err := p.Send([][]byte{make([]byte, 60)}); !errors.Is(err, drivers.ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
}

func TestOpenPacketRefusals(t *testing.T) {
	ns := nettest.NewNamespace(t)
	ns.CreateVeth("veth-k", "veth-s")
	err := ns.Do(func() error {
		if _, err := drivers.OpenPacket("nosuchif"); err == nil {
			return errors.New("OpenPacket of a missing interface succeeded")
		}
		if _, err := drivers.OpenPacket("lo"); err == nil {
			return errors.New("OpenPacket of lo, which has no MAC, succeeded")
		}
		// Close without Start releases the socket.
		p, err := drivers.OpenPacket("veth-s")
		if err != nil {
			return err
		}
		if err := p.Close(); err != nil {
			return err
		}
		select {
		case <-p.Done():
			return nil
		default:
			return errors.New("Done not closed after Close")
		}
	})
	if err != nil {
		t.Fatal(err)
	}
}
