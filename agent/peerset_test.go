package agent

import (
	"errors"
	"net/netip"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

func testKey(t testing.TB, b byte) wgtypes.Key {
	t.Helper()
	var k wgtypes.Key
	for i := range k {
		k[i] = b
	}
	return k
}

func prefixes(t testing.TB, ss ...string) []netip.Prefix {
	t.Helper()
	out, err := parseAllowedIPs(ss)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckOverlap(t *testing.T) {
	tests := []struct {
		name    string
		a, b    []string
		overlap bool
	}{
		{"disjoint hosts", []string{"10.0.0.2/32"}, []string{"10.0.0.3/32"}, false},
		{"same host", []string{"10.0.0.2/32"}, []string{"10.0.0.2/32"}, true},
		{"nested", []string{"10.0.0.0/24"}, []string{"10.0.0.77/32"}, true},
		{"nested reverse", []string{"10.0.0.77/32"}, []string{"10.0.0.0/24"}, true},
		{"shares end", []string{"10.0.0.0/24"}, []string{"10.0.0.128/25"}, true},
		{"v4 and v6 apart", []string{"0.0.0.0/0"}, []string{"::/0"}, false},
		{"v6 nested", []string{"fd00::/64"}, []string{"fd00::5/128"}, true},
		{"default routes", []string{"0.0.0.0/0"}, []string{"192.168.1.0/24"}, true},
		{"adjacent", []string{"10.0.0.0/25"}, []string{"10.0.0.128/25"}, false},
		{"wide own range hides nothing", []string{"10.0.0.0/8", "10.1.0.0/16"}, []string{"10.2.3.4/32"}, true},
		{"own ranges nested", []string{"10.0.0.0/8", "10.1.0.0/16"}, []string{"11.0.0.1/32"}, false},
		{"empty", nil, []string{"10.0.0.1/32"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := peerSet{
				testKey(t, 1): {Key: testKey(t, 1), AllowedIPs: prefixes(t, tt.a...)},
				testKey(t, 2): {Key: testKey(t, 2), AllowedIPs: prefixes(t, tt.b...)},
			}
			err := set.checkOverlap()
			if got := err != nil; got != tt.overlap {
				t.Fatalf("overlap = %v (%v), want %v", got, err, tt.overlap)
			}
			if err != nil && !errors.Is(err, errConflict) {
				t.Fatalf("overlap error is not a conflict: %v", err)
			}
		})
	}
}

func TestDiffTouchesOnlyChangedPeers(t *testing.T) {
	k1, k2, k3 := testKey(t, 1), testKey(t, 2), testKey(t, 3)
	old := peerSet{
		k1: {Key: k1, AllowedIPs: prefixes(t, "10.0.0.2/32")},
		k2: {Key: k2, AllowedIPs: prefixes(t, "10.0.0.3/32"), Keepalive: 25},
	}
	next := old.clone()
	next[k2] = peerConf{Key: k2, AllowedIPs: prefixes(t, "10.0.0.3/32", "10.0.1.0/24"), Keepalive: 25}
	delete(next, k1)
	next[k3] = peerConf{Key: k3, AllowedIPs: prefixes(t, "10.0.0.4/32")}

	d := diff(old, next)
	if len(d) != 3 {
		t.Fatalf("diff has %d changes, want 3: %+v", len(d), d)
	}
	byKey := map[wgtypes.Key]wgtypes.PeerConfig{}
	for _, c := range d {
		byKey[c.PublicKey] = c
	}
	if c := byKey[k1]; !c.Remove {
		t.Errorf("k1 should be removed: %+v", c)
	}
	// k2 is updated in place with 2 allowed IPs.
	c2 := byKey[k2]
	testenv.Equal(t, "k2 Remove", c2.Remove, false)
	testenv.Equal(t, "k2 UpdateOnly", c2.UpdateOnly, true)
	testenv.Equal(t, "k2 ReplaceAllowedIPs", c2.ReplaceAllowedIPs, true)
	testenv.Equal(t, "k2 len(AllowedIPs)", len(c2.AllowedIPs), 2)
	if c := byKey[k3]; c.Remove || c.UpdateOnly || len(c.AllowedIPs) != 1 {
		t.Errorf("k3 should be added: %+v", c)
	}
	if len(diff(next, next)) != 0 {
		t.Error("diff of a set with itself is not empty")
	}
}

func TestParseAllowedIPs(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
		bad  bool
	}{
		{"host v4", []string{"10.0.1.2/32"}, []string{"10.0.1.2/32"}, false},
		{"bare address", []string{"10.0.1.2"}, []string{"10.0.1.2/32"}, false},
		{"bare v6", []string{"fd00::2"}, []string{"fd00::2/128"}, false},
		{"sorted and deduplicated", []string{"fd00::2/128", "10.0.1.2/32", "10.0.1.2/32"}, []string{"10.0.1.2/32", "fd00::2/128"}, false},
		{"empty", []string{}, []string{}, false},
		{"host bits", []string{"10.0.1.5/24"}, nil, true},
		{"garbage", []string{"ten.zero"}, nil, true},
		{"bad length", []string{"10.0.0.0/33"}, nil, true},
		{"mapped", []string{"::ffff:10.0.0.1/128"}, nil, true},
		{"zone", []string{"fe80::1%eth0"}, nil, true},
		{"spaces trimmed", []string{" 10.0.1.2/32\t", "\nfd00::2/128 "}, []string{"10.0.1.2/32", "fd00::2/128"}, false},
		{"comma list as wg set takes it", []string{"fd00::2/128, 10.0.1.2/32"}, []string{"10.0.1.2/32", "fd00::2/128"}, false},
		{"empty entry", []string{""}, nil, true},
		{"trailing comma", []string{"10.0.1.2/32,"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAllowedIPs(tt.in)
			if tt.bad {
				if err == nil || !errors.Is(err, errBadRequest) {
					t.Fatalf("want bad request, got %v, %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := prefixStrings(got); len(s) != len(tt.want) || (len(s) > 0 && s[0] != tt.want[0]) || (len(s) > 1 && s[1] != tt.want[1]) {
				t.Fatalf("got %v, want %v", s, tt.want)
			}
		})
	}
}

func TestLastAddr(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/24": "10.0.0.255", "10.0.0.7/32": "10.0.0.7", "0.0.0.0/0": "255.255.255.255",
		"fd00::/64": "fd00::ffff:ffff:ffff:ffff",
	} {
		if got := lastAddr(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("lastAddr(%s) = %s, want %s", in, got, want)
		}
	}
}
