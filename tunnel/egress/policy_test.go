package egress

import (
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

func rules(t *testing.T, ss ...string) []Rule {
	t.Helper()
	rs, err := ParseRules(ss)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// hosts is a fixed host address listing that counts its calls.
func hosts(calls *atomic.Int32, addrs ...string) func() ([]netip.Addr, error) {
	return func() ([]netip.Addr, error) {
		calls.Add(1)
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

func TestPolicyCheck(t *testing.T) {
	ports := []uint16{8080, 9586}
	api := func() []uint16 { return ports }
	var calls atomic.Int32
	host := hosts(&calls, "192.168.80.1", "172.31.9.1", "fe80::1")
	tests := []struct {
		name        string
		allow, deny []string
		dst         string
		port        uint16
		refused     string // "" means allowed; else a word of the reason
	}{
		{"default allows the world", nil, nil, "203.0.113.7", 443, ""},
		{"default allows a host address", nil, nil, "172.31.9.1", 22, ""},
		{"default allows icmp", nil, nil, "203.0.113.7", 0, ""},
		{"default refuses loopback", nil, nil, "127.0.0.1", 22, "host itself"},
		{"default refuses all of 127/8", nil, nil, "127.9.9.9", 22, "host itself"},
		{"default refuses ipv6 loopback", nil, nil, "::1", 22, "host itself"},
		{"default refuses mapped loopback", nil, nil, "::ffff:127.0.0.1", 22, "host itself"},
		{"default refuses unspecified", nil, nil, "0.0.0.0", 22, "host itself"},
		{"default refuses ipv6 unspecified", nil, nil, "::", 22, "host itself"},
		{"default refuses loopback ping", nil, nil, "127.0.0.1", 0, "host itself"},
		{"default refuses api port on host", nil, nil, "172.31.9.1", 8080, "agent listens on"},
		{"default refuses metrics port on host", nil, nil, "172.31.9.1", 9586, "agent listens on"},
		{"metrics port by an explicit rule", []string{"172.31.9.1:9586"}, nil, "172.31.9.1", 9586, ""},
		{"default refuses api port on loopback", nil, nil, "127.0.0.1", 8080, "host itself"},
		{"api port elsewhere is fine", nil, nil, "203.0.113.7", 8080, ""},
		{"everything does not open loopback", []string{"0.0.0.0/0"}, nil, "127.0.0.1", 22, "host itself"},
		{"everything does not open the api", []string{"0.0.0.0/0"}, nil, "172.31.9.1", 8080, "agent listens on"},
		{"explicit loopback host", []string{"127.0.0.1"}, nil, "127.0.0.1", 22, ""},
		{"explicit loopback net", []string{"127.0.0.0/8:22"}, nil, "127.0.0.1", 22, ""},
		{"explicit loopback still not api", []string{"127.0.0.0/8"}, nil, "127.0.0.1", 8080, "agent listens on"},
		{"explicit api port", []string{"172.31.9.1:8080"}, nil, "172.31.9.1", 8080, ""},
		{"api port by a wide port rule", []string{"0.0.0.0/0:8080"}, nil, "172.31.9.1", 8080, ""},
		{"explicit loopback and api port", []string{"127.0.0.1:8080"}, nil, "127.0.0.1", 8080, ""},
		{"allow list admits", []string{"10.0.0.0/8"}, nil, "10.1.2.3", 80, ""},
		{"allow list refuses the rest", []string{"10.0.0.0/8"}, nil, "11.1.2.3", 80, "no allow rule"},
		{"allow list with ports", []string{"10.0.0.0/8:443"}, nil, "10.1.2.3", 80, "no allow rule"},
		{"port allow refuses icmp", []string{"10.0.0.0/8:443"}, nil, "10.1.2.3", 0, "no allow rule"},
		{"deny", nil, []string{"10.0.0.0/8"}, "10.1.2.3", 80, "deny rule 10.0.0.0/8"},
		{"deny a port", nil, []string{"10.0.0.0/8:22"}, "10.1.2.3", 22, "deny rule"},
		{"deny a port leaves others", nil, []string{"10.0.0.0/8:22"}, "10.1.2.3", 23, ""},
		{"deny a port leaves icmp", nil, []string{"10.0.0.0/8:22"}, "10.1.2.3", 0, ""},
		{"deny wins over allow", []string{"10.1.2.3"}, []string{"10.0.0.0/8"}, "10.1.2.3", 80, "deny rule"},
		{"deny wins over explicit loopback", []string{"127.0.0.1"}, []string{"127.0.0.0/8"}, "127.0.0.1", 80, "deny rule"},
		{"ipv6 deny", nil, []string{"fd00::/8:53"}, "fd00::5", 53, "deny rule"},
		{"ipv6 allowed", nil, nil, "2001:db8::1", 443, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{Allow: rules(t, tt.allow...), Deny: rules(t, tt.deny...), Ports: api, HostAddrs: host})
			err := p.Check(netip.MustParseAddr(tt.dst), tt.port)
			if tt.refused == "" {
				if err != nil {
					t.Fatalf("Check(%s, %d) = %v, want allowed", tt.dst, tt.port, err)
				}
				return
			}
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("Check(%s, %d) = %v, want refused (%s)", tt.dst, tt.port, err, tt.refused)
			}
			if !strings.Contains(err.Error(), tt.refused) {
				t.Fatalf("Check(%s, %d) = %v, want the reason to say %q", tt.dst, tt.port, err, tt.refused)
			}
		})
	}
}

func TestPolicyPortsLate(t *testing.T) {
	var ports atomic.Pointer[[]uint16]
	ports.Store(&[]uint16{})
	var calls atomic.Int32
	p := New(Config{Ports: func() []uint16 { return *ports.Load() }, HostAddrs: hosts(&calls, "192.0.2.1")})
	dst := netip.MustParseAddr("192.0.2.1")
	if err := p.Check(dst, 9000); err != nil {
		t.Fatalf("before the API listens: %v", err)
	}
	ports.Store(&[]uint16{9000})
	if err := p.Check(dst, 9000); !errors.Is(err, ErrRefused) {
		t.Fatalf("once the API listens on 9000: %v, want refused", err)
	}
	ports.Store(&[]uint16{9000, 9586})
	if err := p.Check(dst, 9586); !errors.Is(err, ErrRefused) {
		t.Fatalf("once metrics listen on 9586: %v, want refused", err)
	}
	if !strings.Contains(p.String(), "the agent's ports [9000 9586]") {
		t.Fatalf("String() = %q", p.String())
	}
}

func TestPolicyHostAddrsCachedAndFailClosed(t *testing.T) {
	var calls atomic.Int32
	p := New(Config{Ports: func() []uint16 { return []uint16{8080} }, HostAddrs: hosts(&calls, "192.0.2.1")})
	for range 10 {
		_ = p.Check(netip.MustParseAddr("198.51.100.1"), 8080)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("host addresses listed %d times in a burst, want 1 (cached)", n)
	}
	// Only a check on the API port needs the listing.
	var calls2 atomic.Int32
	p = New(Config{Ports: func() []uint16 { return []uint16{8080} }, HostAddrs: hosts(&calls2)})
	_ = p.Check(netip.MustParseAddr("198.51.100.1"), 80)
	if calls2.Load() != 0 {
		t.Fatal("host addresses listed for a port that is not the API's")
	}

	broken := New(Config{Ports: func() []uint16 { return []uint16{8080} }, HostAddrs: func() ([]netip.Addr, error) {
		return nil, errors.New("netlink is down")
	}})
	if err := broken.Check(netip.MustParseAddr("198.51.100.1"), 8080); !errors.Is(err, ErrRefused) {
		t.Fatalf("with host addresses unknown, the API port must be refused everywhere: %v", err)
	}
	if err := broken.Check(netip.MustParseAddr("198.51.100.1"), 80); err != nil {
		t.Fatalf("other ports stay open: %v", err)
	}
}

func TestPolicyDefaultHostAddrs(t *testing.T) {
	// The real interface listing includes loopback on any Linux host.
	p := New(Config{Ports: func() []uint16 { return []uint16{8080} }})
	if !p.hosts.contains(netip.MustParseAddr("127.0.0.1")) {
		t.Fatal("interfaceAddrs does not list 127.0.0.1")
	}
}

func TestPolicyString(t *testing.T) {
	p := New(Config{Allow: rules(t, "10.0.0.0/8"), Deny: rules(t, "10.9.0.0/16:22", "fd00::/8")})
	want := "allow 10.0.0.0/8; deny 10.9.0.0/16:22,fd00::/8; protected: host loopback"
	if got := p.String(); got != want {
		t.Fatalf("String() = %q, want %q", got, want)
	}
}

// BenchmarkPolicyCheck is the per-packet cost for traffic between peers.
func BenchmarkPolicyCheck(b *testing.B) {
	deny, _ := ParseRules([]string{"10.9.0.0/24:22", "192.0.2.0/24"})
	p := New(Config{Deny: deny, Ports: func() []uint16 { return []uint16{8080} }})
	dst := netip.MustParseAddr("10.9.0.3")
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Check(dst, 7000); err != nil {
			b.Fatal(err)
		}
	}
}
