package forward

import (
	"fmt"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
)

const (
	nicID = 1
	// linkQueueLen is how many packets (segments of up to 64 KiB) the
	// stack may queue towards the peers before its senders wait.
	linkQueueLen = 256
)

// TCP buffer sizes of the forwarding stack: larger than gVisor's defaults
// so that one connection can fill a fast tunnel (the same trade-off as
// Tailscale's netstack).
const (
	tcpRXBufMin = 4 << 10
	tcpRXBufDef = 1 << 20
	tcpRXBufMax = 8 << 20
	tcpTXBufMin = 4 << 10
	tcpTXBufDef = 1 << 20
	tcpTXBufMax = 6 << 20
)

// newStack makes the forwarding stack: one NIC (linkEndpoint) that
// accepts packets for any destination (promiscuous) and sends from any
// source (spoofing), with default routes through it. It has no address of
// its own and no ICMP: echo is answered by the forwarder itself and other
// ICMP never reaches it.
func newStack(mtu int) (*stack.Stack, *linkEndpoint, error) {
	s := stack.New(stack.Options{
		// Loopback destinations are let in so that the egress policy, not
		// the stack, refuses them: counted, logged, and open to an explicit
		// allow rule.
		NetworkProtocols: []stack.NetworkProtocolFactory{
			ipv4.NewProtocolWithOptions(ipv4.Options{AllowExternalLoopbackTraffic: true}),
			ipv6.NewProtocolWithOptions(ipv6.Options{AllowExternalLoopbackTraffic: true}),
		},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol},
	})
	fail := func(what string, err tcpip.Error) (*stack.Stack, *linkEndpoint, error) {
		s.Close()
		s.Wait()
		return nil, nil, fmt.Errorf("forwarding stack: %s: %v", what, err)
	}
	sack := tcpip.TCPSACKEnabled(true)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sack); err != nil {
		return fail("enabling SACK", err)
	}
	// Reno, not cubic: gVisor's cubic has an overflow in its window
	// arithmetic on fast paths (google/gvisor#11632).
	reno := tcpip.CongestionControlOption("reno")
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &reno); err != nil {
		return fail("setting congestion control", err)
	}
	rx := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcpRXBufMin, Default: tcpRXBufDef, Max: tcpRXBufMax}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rx); err != nil {
		return fail("setting receive buffer sizes", err)
	}
	tx := tcpip.TCPSendBufferSizeRangeOption{Min: tcpTXBufMin, Default: tcpTXBufDef, Max: tcpTXBufMax}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &tx); err != nil {
		return fail("setting send buffer sizes", err)
	}
	ep := newLinkEndpoint(linkQueueLen, uint32(mtu))
	if err := s.CreateNIC(nicID, ep); err != nil {
		return fail("creating NIC", err)
	}
	if err := s.SetPromiscuousMode(nicID, true); err != nil {
		return fail("promiscuous mode", err)
	}
	if err := s.SetSpoofing(nicID, true); err != nil {
		return fail("spoofing", err)
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
		{Destination: header.IPv6EmptySubnet, NIC: nicID},
	})
	return s, ep, nil
}
