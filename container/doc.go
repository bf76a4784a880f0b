// Package container finds out where the program runs: inside a container
// or not and which runtime, whether /dev/net/tun can be opened, whether
// the process holds CAP_NET_ADMIN and whether it is in a user namespace
// ([Detect]), and from that which WireGuard data plane to use
// ([Environment.Choose]): a kernel TUN device when it may, a user-space
// netstack when it may not. Its [Mode] names the data plane for the whole
// module; it imports nothing of the module itself, so any package may use
// it.
//
// Detection only reads files (/proc, marker files such as /.dockerenv) and
// opens /dev/net/tun; it changes nothing and never fails, recording what
// it could not learn as "no". Every path is under [Prober.Root], so tests
// run against a fake tree.
package container
