package agent

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wgfleet/wgfleet/tunnel/egress"
	"github.com/wgfleet/wgfleet/tunnel/forward"
)

// newForwarder makes the user-space router of a netstack interface: what
// its peers send beyond the interface is forwarded through host sockets
// under the interface's egress policy, and every port the agent listens on
// (API, metrics, WireGuard) is protected.
func (a *Agent) newForwarder(ic InterfaceConfig, mtu int) (*forward.Forwarder, error) {
	policy := egress.New(egress.Config{
		Allow: ic.EgressAllow,
		Deny:  ic.EgressDeny,
		Ports: a.ports.list,
	})
	f, err := forward.New(forward.Config{
		Addresses: ic.Addresses, MTU: mtu, Policy: policy,
		MaxTCPConns: ic.MaxTCPConns, MaxUDPFlows: ic.MaxUDPFlows,
		TCPIdleTimeout: ic.TCPIdleTimeout, UDPIdleTimeout: ic.UDPIdleTimeout,
		Logger: a.log.With("iface", ic.Name),
	})
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", ic.Name, err)
	}
	a.log.Info("netstack interface routes in user space: peers reach each other and, through host sockets, the host's networks",
		"iface", ic.Name, "egress", policy.String())
	return f, nil
}

// ForwardStats returns the forwarding counters of a netstack interface;
// false for an unknown interface or one in TUN mode.
func (a *Agent) ForwardStats(iface string) (forward.Stats, bool) {
	f, ok := a.fwds[iface]
	if !ok {
		return forward.Stats{}, false
	}
	return f.Stats(), true
}

// setAPIPort records the port the API listens on; 0 leaves it unchanged.
func (a *Agent) setAPIPort(port int) { a.ports.set("api", port) }

// ownPorts are the ports the agent listens on, by listener, which the
// egress policy of netstack interfaces protects on the host's addresses.
// list is lock-free (it runs per forwarded connection); set copies.
type ownPorts struct {
	mu     sync.Mutex
	byName map[string]uint16 // "api", "metrics", "wg:<iface>"
	cur    atomic.Pointer[[]uint16]
}

// set records the port of the named listener; a port outside 1-65535
// leaves it unchanged.
func (o *ownPorts) set(name string, port int) {
	if port <= 0 || port > 65535 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.byName == nil {
		o.byName = map[string]uint16{}
	}
	o.byName[name] = uint16(port)
	list := make([]uint16, 0, len(o.byName))
	for _, p := range o.byName {
		if !slices.Contains(list, p) {
			list = append(list, p)
		}
	}
	slices.Sort(list)
	o.cur.Store(&list)
}

// list returns the ports recorded so far; the caller must not change it.
func (o *ownPorts) list() []uint16 {
	if l := o.cur.Load(); l != nil {
		return *l
	}
	return nil
}

// listenPort is the port of a host:port address, 0 when there is none.
func listenPort(hostport string) int {
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// warnTUNRouting says, at start, what a TUN interface's host does not
// allow: without IP forwarding its peers reach only this node, and the
// egress policy is not the agent's to enforce.
func warnTUNRouting(log *slog.Logger, ic InterfaceConfig, procRoot string) {
	for _, p := range hostForwardingOff(procRoot, ic.Addresses) {
		log.Warn("the host does not forward "+p.family+" ("+p.sysctl+" = 0): peers reach this node only, not each other (hub routing) nor the networks behind it; "+
			"set "+p.sysctl+"=1 and allow forwarding in the host firewall (see docs/DEPLOYMENT.md)", "iface", ic.Name)
	}
	if len(ic.EgressAllow)+len(ic.EgressDeny) > 0 {
		log.Warn("egress rules are not enforced: they apply to netstack interfaces only; in TUN mode the host routes, so use its firewall", "iface", ic.Name)
	}
}

type forwardingOff struct{ family, sysctl string }

// hostForwardingOff lists the address families of addrs whose forwarding
// sysctl, read under procRoot (normally /proc), is not on. An unreadable
// sysctl is not reported.
func hostForwardingOff(procRoot string, addrs []netip.Prefix) []forwardingOff {
	var v4, v6 bool
	for _, p := range addrs {
		v4 = v4 || p.Addr().Is4()
		v6 = v6 || p.Addr().Is6()
	}
	var off []forwardingOff
	check := func(family, sysctl, file string) {
		b, err := os.ReadFile(filepath.Join(procRoot, file))
		if err == nil && strings.TrimSpace(string(b)) == "0" {
			off = append(off, forwardingOff{family, sysctl})
		}
	}
	if v4 {
		check("IPv4", "net.ipv4.ip_forward", "sys/net/ipv4/ip_forward")
	}
	if v6 {
		check("IPv6", "net.ipv6.conf.all.forwarding", "sys/net/ipv6/conf/all/forwarding")
	}
	return off
}
