//go:build linux

package drivers

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ifreq is struct ifreq from <linux/if.h>: an interface name followed by a
// union whose largest member (struct ifmap) is 24 bytes on 64-bit machines
// and 16 on 32-bit ones; 24 covers both. Only the first bytes of the union
// are used here: ifr_flags (a short) and ifr_mtu (an int).
type ifreq struct {
	name [unix.IFNAMSIZ]byte
	data [24]byte
}

func newIfreq(name string) (*ifreq, error) {
	var r ifreq
	if len(name) >= len(r.name) {
		return nil, fmt.Errorf("drivers: interface name %q longer than %d bytes", name, len(r.name)-1)
	}
	copy(r.name[:], name)
	return &r, nil
}

// ifname returns the name up to its NUL.
func (r *ifreq) ifname() string {
	for i, c := range r.name {
		if c == 0 {
			return string(r.name[:i])
		}
	}
	return string(r.name[:])
}

func (r *ifreq) flags() uint16     { return binary.NativeEndian.Uint16(r.data[:2]) }
func (r *ifreq) setFlags(f uint16) { binary.NativeEndian.PutUint16(r.data[:2], f) }
func (r *ifreq) int32() int32      { return int32(binary.NativeEndian.Uint32(r.data[:4])) }

// ioctl issues an ifreq ioctl on fd.
func (r *ifreq) ioctl(fd int, req uint) error {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(unsafe.Pointer(r)))
	if errno != 0 {
		return errno
	}
	return nil
}

// controlSocket opens a datagram socket for interface ioctls, in the
// network namespace of the calling thread.
func controlSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err == unix.EAFNOSUPPORT {
		fd, err = unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("drivers: control socket: %w", err)
	}
	return fd, nil
}

// interfaceMTU reads the MTU of the named interface (SIOCGIFMTU) in the
// network namespace of the calling thread.
func interfaceMTU(name string) (int, error) {
	r, err := newIfreq(name)
	if err != nil {
		return 0, err
	}
	s, err := controlSocket()
	if err != nil {
		return 0, err
	}
	defer unix.Close(s)
	if err := r.ioctl(s, unix.SIOCGIFMTU); err != nil {
		return 0, fmt.Errorf("drivers: %s: SIOCGIFMTU: %w", name, err)
	}
	return int(r.int32()), nil
}

// interfaceExists reports whether the named interface exists in the network
// namespace of the calling thread (SIOCGIFINDEX).
func interfaceExists(name string) (bool, error) {
	r, err := newIfreq(name)
	if err != nil {
		return false, err
	}
	s, err := controlSocket()
	if err != nil {
		return false, err
	}
	defer unix.Close(s)
	switch err := r.ioctl(s, unix.SIOCGIFINDEX); err {
	case nil:
		return true, nil
	case unix.ENODEV:
		return false, nil
	default:
		return false, fmt.Errorf("drivers: %s: SIOCGIFINDEX: %w", name, err)
	}
}
