//go:build linux

package drivers_test

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"netspace/drivers"
	"netspace/test/nettest"
)

func TestTAP(t *testing.T) {
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", "192.0.2.1/24")
	ns.MustRun(t, "ip", "link", "set", "tap0", "mtu", "1400")
	tap, err := ns.OpenTAP("tap0")
	if err != nil {
		t.Fatal(err)
	}
	if got := tap.Name(); got != "tap0" {
		t.Errorf("Name() = %q, want tap0", got)
	}
	if got := tap.MTU(); got != 1400 {
		t.Errorf("MTU() = %d, want 1400", got)
	}
	if got := tap.HardwareAddr(); got != ([6]byte{}) {
		t.Errorf("HardwareAddr() = %x, want zero", got)
	}
	rx, frames := collect(256)
	if err := tap.Start(rx); err != nil {
		t.Fatal(err)
	}
	if err := tap.Start(rx); !errors.Is(err, drivers.ErrStarted) {
		t.Errorf("second Start: %v, want ErrStarted", err)
	}

	// Receive: the kernel ARPs for the destination of a datagram.
	sendUDPFromKernel(t, ns, absentIP, 100)
	req := awaitARPRequest(t, frames, absentIP)
	if req.spa != kernelIP || req.dst != [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} {
		t.Errorf("ARP request from %v to %x, want from %v to broadcast", req.spa, req.dst, kernelIP)
	}

	// Send: our reply resolves the address in the kernel's table, and the
	// queued datagram follows.
	answerARP(t, ns, tap.Send, req)
	awaitUDP(t, frames, madeUp, 100)

	st := tap.Stats()
	if st.RxFrames < 2 || st.TxFrames != 1 || st.TxBytes != 42 || st.RxErrors != 0 || st.TxErrors != 0 {
		t.Errorf("Stats() = %+v", st)
	}
	if err := tap.Send([][]byte{make([]byte, 10), make([]byte, 1419)}); !errors.Is(err, drivers.ErrFrameSize) {
		t.Errorf("Send of a runt and an oversized frame: %v, want ErrFrameSize", err)
	}
	if got := tap.Stats().TxDropped; got != 2 {
		t.Errorf("TxDropped = %d, want 2", got)
	}
}

// awaitUDP waits up to 5 s for an IPv4 frame to dst carrying a UDP payload
// of size bytes.
func awaitUDP(t *testing.T, frames <-chan []byte, dst [6]byte, size int) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case f := <-frames:
			if len(f) == 14+20+8+size && [6]byte(f[0:6]) == dst && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17 {
				return
			}
		case <-deadline:
			t.Fatalf("no %d-byte UDP datagram to %x within 5 s", size, dst)
		}
	}
}

func TestTAPCloseUnblocksReader(t *testing.T) {
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", "192.0.2.1/24")
	tap, err := ns.OpenTAP("tap0")
	if err != nil {
		t.Fatal(err)
	}
	var closed atomic.Bool
	var late atomic.Int64
	if err := tap.Start(func([][]byte) {
		if closed.Load() {
			late.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	// The reader is idle, asleep in poll: Close must wake it.
	done := make(chan error, 1)
	go func() { done <- tap.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5 s")
	}
	closed.Store(true)
	select {
	case <-tap.Done():
	default:
		t.Error("Done not closed after Close")
	}
	if err := tap.Err(); err != nil {
		t.Errorf("Err() after Close = %v, want nil", err)
	}
	if err := tap.Send([][]byte{make([]byte, 60)}); !errors.Is(err, drivers.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	if err := tap.Start(func([][]byte) {}); !errors.Is(err, drivers.ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
	if err := tap.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The device is free again: a new TAP can attach.
	again, err := ns.OpenTAP("tap0")
	if err != nil {
		t.Fatalf("reattaching after Close: %v", err)
	}
	again.Close()
	if late.Load() != 0 {
		t.Errorf("rx called %d times after Close returned", late.Load())
	}
}

func TestTAPCloseUnderLoad(t *testing.T) {
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", "192.0.2.1/24")
	ns.MustRun(t, "ip", "neigh", "add", absentIP.String(), "lladdr", "02:00:5e:00:02:09", "dev", "tap0")
	tap, err := ns.OpenTAP("tap0")
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Int64
	if err := tap.Start(func(f [][]byte) { got.Add(int64(len(f))) }); err != nil {
		t.Fatal(err)
	}
	// Keep the reader busy from another thread while closing.
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() { sent <- ns.Do(func() error { return flood(stop, absentIP, 200000) }) }()
	for deadline := time.Now().Add(5 * time.Second); got.Load() < 100 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	if err := tap.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close under load took %v", d)
	}
	close(stop)
	if err := <-sent; err != nil {
		t.Errorf("flood: %v", err)
	}
	if got.Load() < 100 {
		t.Errorf("received only %d frames under load", got.Load())
	}
}

// flood sends up to n small datagrams to dst:9 from the calling thread's
// namespace, until stop is closed.
func flood(stop <-chan struct{}, dst netip.Addr, n int) error {
	s, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	to := &unix.SockaddrInet4{Port: 9, Addr: dst.As4()}
	payload := make([]byte, 16)
	for range n {
		select {
		case <-stop:
			return nil
		default:
		}
		// ENOBUFS: the TAP queue is full; the point is to keep it so.
		if err := unix.Sendto(s, payload, 0, to); err != nil && err != unix.ENOBUFS {
			return err
		}
	}
	return nil
}

func TestTAPTruncatedFrameDropped(t *testing.T) {
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", "192.0.2.1/24")
	ns.MustRun(t, "ip", "neigh", "add", absentIP.String(), "lladdr", "02:00:5e:00:02:09", "dev", "tap0")
	tap, err := ns.OpenTAP("tap0") // MTU 1500: buffers for 1518-byte frames
	if err != nil {
		t.Fatal(err)
	}
	rx, frames := collect(64)
	if err := tap.Start(rx); err != nil {
		t.Fatal(err)
	}
	ns.MustRun(t, "ip", "link", "set", "tap0", "mtu", "4000")
	sendUDPFromKernel(t, ns, absentIP, 3000) // one 3042-byte frame
	sendUDPFromKernel(t, ns, absentIP, 100)  // then a small one
	awaitUDP(t, frames, madeUp, 100)
	if st := tap.Stats(); st.RxDropped != 1 {
		t.Errorf("RxDropped = %d, want 1 (the truncated frame); stats %+v", st.RxDropped, st)
	}
}

func TestOpenTAPMissingAndCreate(t *testing.T) {
	ns := nettest.NewNamespace(t)
	err := ns.Do(func() error {
		_, err := drivers.OpenTAP("nosuchtap", drivers.TAPOptions{})
		if !errors.Is(err, unix.ENODEV) {
			return errors.New("OpenTAP of a missing device without Create: " + errString(err))
		}
		tap, err := drivers.OpenTAP("newtap", drivers.TAPOptions{Create: true})
		if err != nil {
			return err
		}
		if tap.Name() != "newtap" || tap.MTU() != 1500 {
			return errors.New("created TAP has name " + tap.Name())
		}
		return tap.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	// Not persistent: gone with the TAP.
	out := ns.MustRun(t, "ip", "-o", "link", "show")
	if strings.Contains(string(out), "newtap") {
		t.Errorf("created TAP survived Close:\n%s", out)
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestTAPDeviceDeleted(t *testing.T) {
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", "")
	tap, err := ns.OpenTAP("tap0")
	if err != nil {
		t.Fatal(err)
	}
	if err := tap.Start(func([][]byte) {}); err != nil {
		t.Fatal(err)
	}
	ns.MustRun(t, "ip", "link", "del", "tap0")
	select {
	case <-tap.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed within 5 s of the device's deletion")
	}
	if err := tap.Err(); !errors.Is(err, unix.EBADFD) {
		t.Errorf("Err() = %v, want EBADFD", err)
	}
	if st := tap.Stats(); st.RxErrors != 1 {
		t.Errorf("RxErrors = %d, want 1", st.RxErrors)
	}
	if err := tap.Close(); err != nil {
		t.Errorf("Close after the device went: %v", err)
	}
}

func TestOpenTAPFd(t *testing.T) {
	ns := nettest.NewNamespace(t)
	ns.CreateTAP("tap0", "")
	ns.MustRun(t, "ip", "tuntap", "add", "dev", "tun0", "mode", "tun")
	t.Cleanup(func() { ns.Run(context.Background(), "ip", "tuntap", "del", "dev", "tun0", "mode", "tun") })
	// attach opens /dev/net/tun inside the namespace and attaches it to
	// name with flags, as a program handing us a descriptor would.
	attach := func(name string, flags uint16) (fd int, err error) {
		err = ns.Do(func() error {
			fd, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			ifr, err := unix.NewIfreq(name)
			if err != nil {
				return err
			}
			ifr.SetUint16(flags)
			return unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr)
		})
		return fd, err
	}
	fd, err := attach("tap0", unix.IFF_TAP|unix.IFF_NO_PI)
	if err != nil {
		t.Fatal(err)
	}
	var tap *drivers.TAP
	if err := ns.Do(func() (err error) { tap, err = drivers.OpenTAPFd(fd, drivers.TAPOptions{}); return err }); err != nil {
		t.Fatal(err)
	}
	if tap.Name() != "tap0" || tap.MTU() != 1500 {
		t.Errorf("OpenTAPFd: name %q, MTU %d", tap.Name(), tap.MTU())
	}
	tap.Close()

	fd, err = attach("tun0", unix.IFF_TUN|unix.IFF_NO_PI)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drivers.OpenTAPFd(fd, drivers.TAPOptions{}); err == nil {
		t.Error("OpenTAPFd accepted a TUN device")
	}
}
