// Package tunnel runs one WireGuard interface in-process with wireguard-go.
//
// A [Tunnel] is made once, by the constructor that picks its data plane:
// [NewTUN] puts the device on a real kernel TUN interface (needs
// CAP_NET_ADMIN and /dev/net/tun), sets its addresses, MTU and link state
// over netlink and serves the standard UAPI socket so that wg(8) and wgctrl
// can read it; [NewNetstack] keeps the whole IP stack in user space with
// gVisor and needs no privileges, and its [netstack.Net] lets the program
// dial and listen through the tunnel.
//
// All peer changes go through [Tunnel.Configure], which turns a batch of
// wgtypes.PeerConfig into exactly one UAPI set operation under one mutex,
// applied in full or not at all: the Tunnel keeps a record of the peer
// configuration it gave the device and undoes a batch the device refuses
// part-way.
// The UAPI text protocol itself lives in a small pure codec, [WriteConfig]
// (a whole wgtypes.Config, device fields and peers) and [ParseDevice], that
// never sees a socket; it writes every line this package sends the device.
//
// A Tunnel lives in the network namespace of its process. The package has
// no notion of other namespaces: tests that need one run a process inside
// it (ip netns exec), as wireguard-go's tests/netns.sh does.
//
// The interface's private key is given to the device once, at construction,
// and never leaves the package: no method returns it and no log line
// carries it.
package tunnel
