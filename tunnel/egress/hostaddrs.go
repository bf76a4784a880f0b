package egress

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// hostAddrsTTL is how long a listing of the host's addresses is trusted.
const hostAddrsTTL = 5 * time.Second

// hostAddrs caches the host's own addresses.
type hostAddrs struct {
	list func() ([]netip.Addr, error)

	mu      sync.Mutex // guards the fields below
	addrs   map[netip.Addr]bool
	ok      bool // the last listing succeeded
	fetched time.Time
}

func newHostAddrs(list func() ([]netip.Addr, error)) *hostAddrs {
	if list == nil {
		list = interfaceAddrs
	}
	return &hostAddrs{list: list}
}

// contains reports whether a is one of the host's addresses, or true when
// they cannot be listed.
func (h *hostAddrs) contains(a netip.Addr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fetched.IsZero() || time.Since(h.fetched) > hostAddrsTTL {
		addrs, err := h.list()
		h.fetched, h.ok = time.Now(), err == nil
		h.addrs = make(map[netip.Addr]bool, len(addrs))
		for _, x := range addrs {
			h.addrs[x.Unmap().WithZone("")] = true
		}
	}
	return !h.ok || h.addrs[a]
}

// interfaceAddrs lists the addresses of every interface of the host (of
// the network namespace the process runs in).
func interfaceAddrs() ([]netip.Addr, error) {
	ifas, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	out := make([]netip.Addr, 0, len(ifas))
	for _, a := range ifas {
		if n, ok := a.(*net.IPNet); ok {
			if ip, ok := netip.AddrFromSlice(n.IP); ok {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out, nil
}
