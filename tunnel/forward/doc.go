// Package forward makes a netstack WireGuard interface route like a node
// with a kernel interface would, with no privileges: a user-space NAT in
// the manner of Tailscale's userspace-networking mode.
//
// A [Forwarder] wraps the netstack's device (see tunnel.NewNetstackWith)
// and sorts every packet a peer sends by its destination:
//
//   - to one of the interface's own addresses: on to the netstack beneath,
//     as before; except DNS (port 53), which is forwarded to the host's
//     resolvers from /etc/resolv.conf;
//   - to another address of the interface's subnets: back out through
//     WireGuard, to the peer that owns it (hub routing);
//   - anywhere else: TCP and UDP are terminated by a second gVisor stack
//     (promiscuous, spoofing) and relayed through ordinary host sockets;
//     ICMP echo is answered when an unprivileged ICMP socket
//     (net.ipv4.ping_group_range) gets a reply from the destination.
//
// The second stack takes each batch of packets WireGuard decrypted through
// gVisor's GRO, so that consecutive segments of a TCP flow reach it merged
// (link.go); the other way its TCP sends segments of up to 64 KiB (host
// GSO), which the device cuts into packets of the MTU as WireGuard reads
// them (segment.go).
//
// Everything but the interface's own addresses passes the egress [Policy]
// first. TCP connections and UDP flows are limited in number and closed
// after an idle time; the counts are in [Forwarder.Stats] and every refusal
// is logged at debug level.
package forward
