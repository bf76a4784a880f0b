package ipam_test

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/wgfleet/wgfleet/controller/ipam"
)

func TestCarvePool4(t *testing.T) {
	pp := func(ss ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range ss {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	super := netip.MustParsePrefix("10.128.0.0/9")
	tests := []struct {
		name     string
		supernet netip.Prefix
		bits     int
		used     []netip.Prefix
		want     string
		wantErr  error
	}{
		{"empty fleet", super, 24, nil, "10.128.0.0/24", nil},
		{"first taken", super, 24, pp("10.128.0.0/24"), "10.128.1.0/24", nil},
		{"hole reused", super, 24, pp("10.128.0.0/24", "10.128.2.0/24"), "10.128.1.0/24", nil},
		{"smaller pool inside", super, 24, pp("10.128.0.64/26"), "10.128.1.0/24", nil},
		{"larger pool covers many", super, 24, pp("10.128.0.0/16", "10.129.0.0/24"), "10.129.1.0/24", nil},
		{"pool outside and IPv6 ignored", super, 24, pp("10.0.0.0/24", "fd00::/64"), "10.128.0.0/24", nil},
		{"unmasked used prefix", super, 24, pp("10.128.0.5/24"), "10.128.1.0/24", nil},
		{"used covers the supernet", super, 24, pp("10.0.0.0/8"), "", ipam.ErrPoolExhausted},
		{"full", netip.MustParsePrefix("10.1.0.0/23"), 24, pp("10.1.0.0/24", "10.1.1.0/24"), "", ipam.ErrPoolExhausted},
		{"bits smaller than supernet", super, 8, nil, "", ipam.ErrInvalidPool},
		{"bits too small a pool", super, 31, nil, "", ipam.ErrInvalidPool},
		{"IPv6 supernet", netip.MustParsePrefix("fd00::/48"), 64, nil, "", ipam.ErrInvalidPool},
		{"pool as large as supernet", netip.MustParsePrefix("10.1.0.0/24"), 24, nil, "10.1.0.0/24", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ipam.CarvePool4(tc.supernet, tc.bits, tc.used)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("CarvePool4 = %v, %v; want error %v", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("CarvePool4 = %v, %v; want %s", got, err, tc.want)
			}
			if err := ipam.ValidatePool4(got); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCarvePool4SkipsFast: a supernet full of used pools is answered
// without walking it address by address.
func TestCarvePool4SkipsFast(t *testing.T) {
	var used []netip.Prefix
	for i := range 255 {
		used = append(used, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200, byte(i), 0}), 24))
	}
	got, err := ipam.CarvePool4(netip.MustParsePrefix("10.200.0.0/16"), 24, used)
	if err != nil || got.String() != "10.200.255.0/24" {
		t.Fatalf("got %v, %v; want 10.200.255.0/24", got, err)
	}
}
