//go:build linux

package drivers

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// tunDevice is the clone device that hands out TUN/TAP file descriptors.
const tunDevice = "/dev/net/tun"

// TAPOptions configure OpenTAP.
type TAPOptions struct {
	// Create creates the device if it does not exist. A device created this
	// way is not persistent: it disappears when the TAP is closed. Without
	// Create, OpenTAP attaches only to an existing device (typically one
	// made with `ip tuntap add NAME mode tap`).
	Create bool
	// Batch is the most frames handed to rx in one call (default
	// DefaultBatch).
	Batch int
}

// TAP is a Link over a Linux TAP device. The kernel side of the device is
// configured by the kernel (addresses, routes, up/down); the TAP has no MAC
// of its own, so HardwareAddr is zero and the stack picks one.
//
// The network namespace of a TAP is the one of the thread that opened it:
// open it from inside the namespace the device lives in.
type TAP struct {
	fdLink
}

var _ Link = (*TAP)(nil)

// OpenTAP attaches to the TAP device called name, creating it if opts.Create
// is set (an empty name then lets the kernel choose one, e.g. tap0). It
// switches every offload off (TUNSETOFFLOAD 0), so frames are never larger
// than the MTU allows even on a persistent device that an earlier user left
// with offloads on, and reads the MTU from the device.
func OpenTAP(name string, opts TAPOptions) (*TAP, error) {
	if !opts.Create {
		ok, err := interfaceExists(name)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("drivers: TAP %q: %w", name, unix.ENODEV)
		}
	}
	fd, err := unix.Open(tunDevice, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("drivers: open %s: %w", tunDevice, err)
	}
	r, err := newIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	r.setFlags(unix.IFF_TAP | unix.IFF_NO_PI)
	if err := r.ioctl(fd, unix.TUNSETIFF); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("drivers: TAP %q: TUNSETIFF: %w", name, err)
	}
	return newTAP(fd, r.ifname(), opts)
}

// OpenTAPFd makes a TAP of fd, a /dev/net/tun descriptor already attached
// to a TAP device with IFF_NO_PI (and without IFF_VNET_HDR). The TAP owns fd
// from then on, also when OpenTAPFd fails.
func OpenTAPFd(fd int, opts TAPOptions) (*TAP, error) {
	var r ifreq
	if err := r.ioctl(fd, unix.TUNGETIFF); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("drivers: TUNGETIFF: %w", err)
	}
	const want = unix.IFF_TAP | unix.IFF_NO_PI
	if f := r.flags(); f&(unix.IFF_TAP|unix.IFF_TUN|unix.IFF_NO_PI|unix.IFF_VNET_HDR) != want {
		unix.Close(fd)
		return nil, fmt.Errorf("drivers: fd %d (%s) has flags %#x, want IFF_TAP|IFF_NO_PI without IFF_VNET_HDR", fd, r.ifname(), f)
	}
	return newTAP(fd, r.ifname(), opts)
}

func newTAP(fd int, name string, opts TAPOptions) (*TAP, error) {
	if err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, 0); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("drivers: TAP %s: TUNSETOFFLOAD: %w", name, err)
	}
	mtu, err := interfaceMTU(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	if mtu <= 0 {
		unix.Close(fd)
		return nil, errors.New("drivers: TAP " + name + ": device reports no MTU")
	}
	t := new(TAP)
	if err := t.initFdLink(fd, name, mtu, [6]byte{}, opts.Batch); err != nil {
		return nil, err
	}
	return t, nil
}
