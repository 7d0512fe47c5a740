package netspace

import (
	"fmt"

	"netspace/actors"
	ds "netspace/dataspace"
	"netspace/ip"
)

// ServeUDPEcho starts a user actor serving UDP echo (RFC 862) on port: it
// observes udp-channel(?, udp-listener(port), ?) and sends each datagram
// back to where it came from. It is the shape of a UDP service to copy.
func (s *Stack) ServeUDPEcho(port uint16) *actors.Actor {
	return s.Spawn(fmt.Sprintf("udp-echo:%d", port), func(t *actors.Turn) {
		t.Observe(ip.ListenerPattern(port), actors.Handler{
			Message: func(t *actors.Turn, m ds.Record) {
				c := m.(*ip.UDPChannel)
				t.Send(&ip.UDPChannel{Src: c.Dst, Dst: c.Src, Body: c.Body})
			},
		})
	})
}
