package testenv

import (
	"net"
	"net/netip"
	"testing"
)

// HostIPv4 is a non-loopback IPv4 address of this host, for services that
// a gVisor peer must reach (gVisor drops replies from loopback). Without
// one the test skips, or fails in CI.
func HostIPv4(t testing.TB) netip.Addr {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() && !ip.IsLoopback() {
				return ip.Unmap()
			}
		}
	}
	missing(t, "no non-loopback IPv4 address on this host")
	return netip.Addr{}
}
