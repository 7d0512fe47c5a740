package dhcp

import (
	"net/netip"

	"netspace/ethernet"
	"netspace/ip"
)

// frameHeadroom is the room before a DHCP message in a frame: Ethernet,
// IPv4 without options, UDP.
const frameHeadroom = ethernet.HeaderLen + ip.IPv4MinHeaderLen + ip.UDPHeaderLen

// BuildFrame encodes m as a UDP datagram from src:68 to dst:67 in an IPv4
// datagram (TTL 64, identification id) behind room for an Ethernet header,
// and returns the whole buffer: frame[ethernet.HeaderLen:] is the IPv4
// datagram. It is how the client sends before it has an address, when
// the IP and UDP actors cannot (they send only from addresses we hold).
func BuildFrame(m *Message, src, dst netip.Addr, id uint16) []byte {
	frame := m.Append(make([]byte, frameHeadroom, frameHeadroom+BOOTPMin+64))
	dgram := frame[ethernet.HeaderLen:]
	udp := dgram[ip.IPv4MinHeaderLen:]
	ip.PutUDPHeader(udp, ClientPort, ServerPort, len(frame)-frameHeadroom)
	ip.SetUDPChecksum(udp, src, dst)
	ip.PutIPv4Header(dgram, &ip.IPv4Fields{
		TotalLen: uint16(len(dgram)), ID: id, TTL: 64, Protocol: ip.ProtocolUDP, Src: src, Dst: dst,
		// 0xc0: CS6, "network control", as other DHCP clients mark it.
		TOS: 0xc0,
	})
	return frame
}
