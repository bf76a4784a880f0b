package agent

import (
	"bytes"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/tunnel/egress"
)

// TestHostForwardingCheck reads forwarding sysctls from a fake /proc.
func TestHostForwardingCheck(t *testing.T) {
	write := func(root, file, v string) {
		p := filepath.Join(root, file)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	v4 := []netip.Prefix{netip.MustParsePrefix("10.8.0.1/24")}
	both := append(v4, netip.MustParsePrefix("fd00::1/64"))
	tests := []struct {
		name     string
		ip4, ip6 string // "" leaves the file out
		addrs    []netip.Prefix
		want     []string
	}{
		{"both off", "0", "0", both, []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"}},
		{"both on", "1", "1", both, nil},
		{"v6 off but unused", "1", "0", v4, nil},
		{"v4 off", "0", "1", v4, []string{"net.ipv4.ip_forward"}},
		{"unreadable", "", "", both, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			if tt.ip4 != "" {
				write(root, "sys/net/ipv4/ip_forward", tt.ip4)
			}
			if tt.ip6 != "" {
				write(root, "sys/net/ipv6/conf/all/forwarding", tt.ip6)
			}
			var got []string
			for _, p := range hostForwardingOff(root, tt.addrs) {
				got = append(got, p.sysctl)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestWarnTUNRouting: the warning names the sysctl and the consequence,
// and egress settings on a TUN interface are called out as ignored.
func TestWarnTUNRouting(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "sys/net/ipv4/ip_forward")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	log := slog.New(slog.NewTextHandler(&b, nil))
	deny, _ := egress.ParseRules([]string{"10.0.0.0/8"})
	warnTUNRouting(log, InterfaceConfig{Name: "wg0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.8.0.1/24")}, EgressDeny: deny}, root)
	out := b.String()
	for _, want := range []string{"level=WARN", "net.ipv4.ip_forward = 0", "not each other (hub routing)", "set net.ipv4.ip_forward=1", "egress rules are not enforced"} {
		if !strings.Contains(out, want) {
			t.Errorf("warning does not say %q:\n%s", want, out)
		}
	}
	b.Reset()
	if err := os.WriteFile(p, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	warnTUNRouting(log, InterfaceConfig{Name: "wg0", Addresses: []netip.Prefix{netip.MustParsePrefix("10.8.0.1/24")}}, root)
	if b.Len() != 0 {
		t.Fatalf("warned on a host that forwards:\n%s", b.String())
	}
}
