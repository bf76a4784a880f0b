package forward

import (
	"bufio"
	"bytes"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"
)

// Resolver file handling, as a C resolver does it: at most three
// nameservers, port 53.
const (
	maxNameservers    = 3
	maxResolvConf     = 64 << 10
	resolvConfRecheck = 5 * time.Second
)

// resolvConf gives the DNS servers: fixed ones, or those of a resolv.conf
// file, read again when its size or modification time changes (checked at
// most every few seconds).
type resolvConf struct {
	path  string
	fixed []netip.AddrPort // when not nil, used instead of the file

	mu      sync.Mutex // guards the fields below
	checked time.Time
	mtime   time.Time
	size    int64
	list    []netip.AddrPort
}

func newResolvConf(path string, fixed []netip.AddrPort) *resolvConf {
	return &resolvConf{path: path, fixed: fixed}
}

// servers returns the DNS servers to try, in order; none when the file is
// missing or names none.
func (r *resolvConf) servers() []netip.AddrPort {
	if r.fixed != nil {
		return r.fixed
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.checked.IsZero() && time.Since(r.checked) < resolvConfRecheck {
		return r.list
	}
	r.checked = time.Now()
	st, err := os.Stat(r.path)
	if err != nil {
		r.list, r.mtime, r.size = nil, time.Time{}, 0
		return nil
	}
	if st.ModTime().Equal(r.mtime) && st.Size() == r.size && r.list != nil {
		return r.list
	}
	data, err := os.ReadFile(r.path)
	if err != nil {
		r.list = nil
		return nil
	}
	r.mtime, r.size = st.ModTime(), st.Size()
	r.list = parseResolvConf(data)
	return r.list
}

// parseResolvConf returns the nameservers of a resolv.conf file: the first
// three valid "nameserver ADDRESS" lines, on port 53. Other lines and
// malformed addresses are ignored, as the C resolver ignores them.
func parseResolvConf(data []byte) []netip.AddrPort {
	if len(data) > maxResolvConf {
		data = data[:maxResolvConf]
	}
	out := []netip.AddrPort{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() && len(out) < maxNameservers {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(fields[1])
		if err != nil {
			continue
		}
		out = append(out, netip.AddrPortFrom(a.Unmap(), 53))
	}
	return out
}
