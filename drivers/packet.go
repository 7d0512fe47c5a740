//go:build linux

package drivers

import (
	"encoding/binary"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// packetIgnoreOutgoing is PACKET_IGNORE_OUTGOING (Linux 4.20): the socket
// does not see frames sent on the interface, its own included.
const packetIgnoreOutgoing = 23

// packetRcvBuf is the receive queue a packet socket asks for: about 1800
// full-size frames.
const packetRcvBuf = 4 << 20

// Packet is a Link over an AF_PACKET socket bound to one existing Ethernet
// interface, e.g. one end of a veth pair. It reads every frame arriving on
// the interface (ETH_P_ALL) and none leaving it. Its HardwareAddr is the
// interface's MAC: the stack should use it, since the interface filters out
// frames for other addresses (it is not put in promiscuous mode).
//
// The kernel keeps processing the interface's frames too: give the interface
// no IP address of its own, or the kernel will answer (ARP, ICMP, TCP RST)
// alongside the stack. VLAN tags the interface strips on receive are not
// restored.
//
// Frames the kernel drops because the socket's receive queue was full are
// read with PACKET_STATISTICS and counted in RxDropped.
type Packet struct {
	fdLink
	kernelDrops uint64 // accumulated tp_drops, under fdLink.mu (exclusive)
}

var _ Link = (*Packet)(nil)

// OpenPacket opens a packet socket on the interface called ifname, in the
// network namespace of the calling thread.
func OpenPacket(ifname string) (*Packet, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("drivers: packet socket on %q: %w", ifname, err)
	}
	if len(ifi.HardwareAddr) != 6 {
		return nil, fmt.Errorf("drivers: packet socket on %q: not an Ethernet interface (hardware address %v)", ifname, ifi.HardwareAddr)
	}
	var mac [6]byte
	copy(mac[:], ifi.HardwareAddr)
	// Protocol 0 receives nothing until bind names the protocol and the
	// interface, so no frame from another interface slips in first.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("drivers: packet socket on %q: %w", ifname, err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, packetIgnoreOutgoing, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("drivers: packet socket on %q: PACKET_IGNORE_OUTGOING: %w", ifname, err)
	}
	// The default receive queue (net.core.rmem_default, ~208 KiB) holds
	// fewer than a hundred full-size frames: a burst from a fast peer
	// overflows it before the reader wakes. Ask for more; as root
	// SO_RCVBUFFORCE may exceed net.core.rmem_max. Best effort.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, packetRcvBuf) != nil {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, packetRcvBuf)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("drivers: packet socket on %q: bind: %w", ifname, err)
	}
	p := new(Packet)
	if err := p.initFdLink(fd, ifi.Name, ifi.MTU, mac, DefaultBatch); err != nil {
		return nil, err
	}
	return p, nil
}

// Stats implements Link, adding the frames the kernel dropped for want of
// room in the socket's receive queue to RxDropped.
func (p *Packet) Stats() LinkStats {
	p.mu.Lock()
	if !p.closed {
		if st, err := unix.GetsockoptTpacketStats(p.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			p.kernelDrops += uint64(st.Drops) // the kernel resets them on each read
		}
	}
	drops := p.kernelDrops
	p.mu.Unlock()
	s := p.stats.snapshot()
	s.RxDropped += drops
	return s
}

// htons converts a short to network byte order, as sll_protocol wants.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}
