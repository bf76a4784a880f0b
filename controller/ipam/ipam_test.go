package ipam

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func TestNextFree(t *testing.T) {
	tests := []struct {
		name    string
		pool    string
		used    []netip.Addr
		want    string
		wantErr error
	}{
		{"empty v4 skips network and interface", "10.0.0.0/24", nil, "10.0.0.2", nil},
		{"empty v6 skips network and interface", "fd00::/64", nil, "fd00::2", nil},
		{"first gap", "10.0.0.0/24", addrs("10.0.0.2", "10.0.0.3", "10.0.0.5"), "10.0.0.4", nil},
		{"unsorted with duplicates", "10.0.0.0/24", addrs("10.0.0.4", "10.0.0.2", "10.0.0.3", "10.0.0.2", "10.0.0.3"), "10.0.0.5", nil},
		{"reserved in used are ignored", "10.0.0.0/24", addrs("10.0.0.0", "10.0.0.1", "10.0.0.255"), "10.0.0.2", nil},
		{"outside pool ignored", "10.0.0.0/24", addrs("10.0.1.2", "10.0.1.3", "192.168.0.2", "fd00::2"), "10.0.0.2", nil},
		{"other family ignored", "fd00::/64", addrs("10.0.0.2", "0.0.0.2"), "fd00::2", nil},
		{"invalid addr ignored", "10.0.0.0/24", []netip.Addr{{}}, "10.0.0.2", nil},
		{"last host before broadcast", "10.0.0.0/29", addrs("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"), "10.0.0.6", nil},
		{"v4 full: broadcast never handed out", "10.0.0.0/29", addrs("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"), "", ErrPoolExhausted},
		{"/30 one host", "10.0.0.0/30", nil, "10.0.0.2", nil},
		{"/30 full", "10.0.0.0/30", addrs("10.0.0.2"), "", ErrPoolExhausted},
		{"/126 two hosts", "fd00::/126", addrs("fd00::2"), "fd00::3", nil},
		{"/126 full: last v6 address is usable, none left", "fd00::/126", addrs("fd00::2", "fd00::3"), "", ErrPoolExhausted},
		{"v6 carries across 64-bit boundary", "fd00::/63", nil, "fd00::2", nil},
		{"v6 top of address space", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc/126", addrs("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe"), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", nil},
		{"v4 top of address space", "255.255.255.252/30", nil, "255.255.255.254", nil},
		{"used far beyond window", "10.0.0.0/8", addrs("10.255.255.254", "10.200.0.0"), "10.0.0.2", nil},
		{"unmasked pool", "10.0.0.5/24", nil, "", ErrInvalidPool},
		{"too small v4", "10.0.0.0/31", nil, "", ErrInvalidPool},
		{"too small v6", "fd00::/127", nil, "", ErrInvalidPool},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.used)
			got, err := NextFree(netip.MustParsePrefix(tt.pool), tt.used)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("NextFree = %v, %v; want error %v", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != netip.MustParseAddr(tt.want) {
				t.Fatalf("NextFree = %s, want %s", got, tt.want)
			}
			if !slices.Equal(before, tt.used) {
				t.Fatal("NextFree modified used")
			}
		})
	}
}

// TestNextFreeFillsPool allocates every address of small pools one by one
// and checks each is distinct, usable, and that the pool then reports
// exhaustion.
func TestNextFreeFillsPool(t *testing.T) {
	tests := []struct {
		pool   string
		usable int
	}{
		{"10.0.0.0/24", 253},
		{"10.0.0.0/30", 1},
		{"192.168.4.0/23", 509},
		{"fd00::/120", 254},
		{"fd00::/126", 2},
	}
	for _, tt := range tests {
		t.Run(tt.pool, func(t *testing.T) {
			pool := netip.MustParsePrefix(tt.pool)
			var used []netip.Addr
			seen := map[netip.Addr]bool{}
			for {
				a, err := NextFree(pool, used)
				if errors.Is(err, ErrPoolExhausted) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if seen[a] {
					t.Fatalf("%s handed out twice", a)
				}
				if err := CheckUsable(pool, a); err != nil {
					t.Fatalf("handed out unusable %s: %v", a, err)
				}
				seen[a] = true
				used = append(used, a)
			}
			if len(used) != tt.usable {
				t.Fatalf("allocated %d addresses, want %d", len(used), tt.usable)
			}
		})
	}
}

// TestNextFreeLargePools works on a /8 and a /64 with 100k used addresses;
// enumerating either range would not finish.
func TestNextFreeLargePools(t *testing.T) {
	const n = 100_000
	tests := []struct {
		name string
		pool string
	}{
		{"v4 /8", "10.0.0.0/8"},
		{"v6 /64", "fd00:1:2:3::/64"},
		{"v6 /48", "fd00:1:2::/48"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := netip.MustParsePrefix(tt.pool)
			used := sequential(pool, n)
			hole := used[n/2]
			used = slices.Delete(used, n/2, n/2+1)
			rand.Shuffle(len(used), func(i, j int) { used[i], used[j] = used[j], used[i] })
			got, err := NextFree(pool, used)
			if err != nil {
				t.Fatal(err)
			}
			if got != hole {
				t.Fatalf("NextFree = %s, want the hole at %s", got, hole)
			}
			used = append(used, hole)
			got, err = NextFree(pool, used)
			if err != nil {
				t.Fatal(err)
			}
			want := sequential(pool, n+1)[n]
			if got != want {
				t.Fatalf("NextFree = %s, want %s after the dense run", got, want)
			}
		})
	}
}

// sequential returns the first n usable addresses of pool.
func sequential(pool netip.Prefix, n int) []netip.Addr {
	out := make([]netip.Addr, 0, n)
	a := InterfaceAddr(pool).Next()
	for range n {
		out = append(out, a)
		a = a.Next()
	}
	return out
}

func TestCheckUsable(t *testing.T) {
	tests := []struct {
		pool, addr string
		ok         bool
	}{
		{"10.0.0.0/24", "10.0.0.2", true},
		{"10.0.0.0/24", "10.0.0.254", true},
		{"10.0.0.0/24", "10.0.0.0", false},
		{"10.0.0.0/24", "10.0.0.1", false},
		{"10.0.0.0/24", "10.0.0.255", false},
		{"10.0.0.0/24", "10.0.1.2", false},
		{"10.0.0.0/24", "::ffff:10.0.0.2", false},
		{"fd00::/64", "fd00::2", true},
		{"fd00::/64", "fd00::ffff:ffff:ffff:ffff", true},
		{"fd00::/64", "fd00::1", false},
		{"fd00::/64", "fd00::", false},
		{"fd00::/64", "10.0.0.2", false},
	}
	for _, tt := range tests {
		t.Run(tt.pool+" "+tt.addr, func(t *testing.T) {
			err := CheckUsable(netip.MustParsePrefix(tt.pool), netip.MustParseAddr(tt.addr))
			if (err == nil) != tt.ok {
				t.Fatalf("CheckUsable = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestHostPrefixAndInterfaceAddr(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.0.0.7", "10.0.0.7/32"},
		{"fd00::7", "fd00::7/128"},
	}
	for _, tt := range tests {
		if got := HostPrefix(netip.MustParseAddr(tt.in)); got != netip.MustParsePrefix(tt.want) {
			t.Errorf("HostPrefix(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
	if got := HostPrefix(netip.Addr{}); got.IsValid() {
		t.Errorf("HostPrefix(zero) = %s, want zero", got)
	}
	if got := InterfaceAddr(netip.MustParsePrefix("10.8.0.0/16")); got != netip.MustParseAddr("10.8.0.1") {
		t.Errorf("InterfaceAddr = %s", got)
	}
	if got := InterfaceAddr(netip.MustParsePrefix("fd00:8::/64")); got != netip.MustParseAddr("fd00:8::1") {
		t.Errorf("InterfaceAddr = %s", got)
	}
}

func TestValidatePool(t *testing.T) {
	tests := []struct {
		name    string
		fn      func(netip.Prefix) error
		pool    string
		wantMsg string // empty: valid
	}{
		{"v4 ok", ValidatePool4, "10.0.0.0/24", ""},
		{"v4 /30 ok", ValidatePool4, "10.0.0.0/30", ""},
		{"v4 /8 ok", ValidatePool4, "10.0.0.0/8", ""},
		{"v4 /31", ValidatePool4, "10.0.0.0/31", "smaller than /30"},
		{"v4 /32", ValidatePool4, "10.0.0.1/32", "smaller than /30"},
		{"v4 unmasked", ValidatePool4, "10.0.0.5/24", "did you mean 10.0.0.0/24"},
		{"v4 given v6", ValidatePool4, "fd00::/64", "not an IPv4 prefix"},
		{"v6 ok", ValidatePool6, "fd00::/64", ""},
		{"v6 /126 ok", ValidatePool6, "fd00::/126", ""},
		{"v6 /127", ValidatePool6, "fd00::/127", "smaller than /126"},
		{"v6 unmasked", ValidatePool6, "fd00::5/64", "did you mean fd00::/64"},
		{"v6 given v4", ValidatePool6, "10.0.0.0/24", "not an IPv6 prefix"},
		{"v6 mapped v4", ValidatePool, "::ffff:10.0.0.0/120", "IPv4-mapped"},
		{"either v4", ValidatePool, "10.0.0.0/24", ""},
		{"either v6", ValidatePool, "fd00::/64", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.fn(netip.MustParsePrefix(tt.pool))
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidPool) {
				t.Fatalf("error %v does not wrap ErrInvalidPool", err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
	if err := ValidatePool(netip.Prefix{}); !errors.Is(err, ErrInvalidPool) {
		t.Errorf("zero prefix: %v", err)
	}
}

func TestParsePool(t *testing.T) {
	if p, err := ParsePool4("10.8.0.0/24"); err != nil || p != netip.MustParsePrefix("10.8.0.0/24") {
		t.Errorf("ParsePool4 = %v, %v", p, err)
	}
	if _, err := ParsePool4("10.8.0.1/24"); err == nil || !strings.Contains(err.Error(), "10.8.0.0/24") {
		t.Errorf("ParsePool4 unmasked: %v", err)
	}
	if _, err := ParsePool4("nonsense"); !errors.Is(err, ErrInvalidPool) {
		t.Errorf("ParsePool4 garbage: %v", err)
	}
	// The parser's own text (netip.ParsePrefix("..."): ...) is not passed on.
	if _, err := ParsePool4("10.0.0.0/33"); err == nil || err.Error() != `ipam: invalid pool: "10.0.0.0/33" is not a valid IPv4 CIDR (like 10.8.0.0/24)` {
		t.Errorf("ParsePool4 /33: %v", err)
	}
	if _, err := ParsePool6("fd00::/129"); err == nil || err.Error() != `ipam: invalid pool: "fd00::/129" is not a valid IPv6 CIDR (like fd00:8::/64)` {
		t.Errorf("ParsePool6 /129: %v", err)
	}
	if p, err := ParsePool6("fd00:8::/64"); err != nil || p != netip.MustParsePrefix("fd00:8::/64") {
		t.Errorf("ParsePool6 = %v, %v", p, err)
	}
	if _, err := ParsePool6("10.8.0.0/24"); !errors.Is(err, ErrInvalidPool) {
		t.Errorf("ParsePool6 v4: %v", err)
	}
}

// BenchmarkNextFree compares a /24 baseline with a /8 and an IPv6 /64
// holding 100k used addresses (shuffled, one hole in the middle). Cost
// follows the used set, not the pool size.
func BenchmarkNextFree(b *testing.B) {
	cases := []struct {
		name string
		pool string
		n    int
	}{
		{"v4_/24_used=200", "10.0.0.0/24", 200},
		{"v4_/8_used=100k", "10.0.0.0/8", 100_000},
		{"v6_/64_used=100k", "fd00::/64", 100_000},
	}
	for _, c := range cases {
		pool := netip.MustParsePrefix(c.pool)
		used := sequential(pool, c.n)
		used = slices.Delete(used, c.n/2, c.n/2+1)
		rand.Shuffle(len(used), func(i, j int) { used[i], used[j] = used[j], used[i] })
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NextFree(pool, used); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestNextFreeMatchesReference checks NextFree against a naive scan of
// small pools for random used sets.
func TestNextFreeMatchesReference(t *testing.T) {
	pools := []netip.Prefix{
		netip.MustParsePrefix("10.1.2.0/27"),
		netip.MustParsePrefix("10.1.2.0/30"),
		netip.MustParsePrefix("fd00::/123"),
		netip.MustParsePrefix("fd00::ffff:ffff:ffff:ff00/120"),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, pool := range pools {
		var all []netip.Addr
		for a := pool.Addr(); pool.Contains(a); a = a.Next() {
			all = append(all, a)
		}
		for range 500 {
			var used []netip.Addr
			for _, a := range all {
				if r.IntN(4) != 0 {
					used = append(used, a)
				}
			}
			// some strays outside the pool
			used = append(used, all[len(all)-1].Next(), pool.Addr().Prev())
			want, wantErr := reference(pool, all, used)
			got, err := NextFree(pool, used)
			if got != want || errors.Is(err, ErrPoolExhausted) != (wantErr != nil) {
				t.Fatalf("pool %s used %v: NextFree = %s, %v; reference %s, %v", pool, used, got, err, want, wantErr)
			}
		}
	}
}

func reference(pool netip.Prefix, all, used []netip.Addr) (netip.Addr, error) {
	for i, a := range all {
		if i < 2 || (a.Is4() && i == len(all)-1) || slices.Contains(used, a) {
			continue
		}
		return a, nil
	}
	return netip.Addr{}, ErrPoolExhausted
}
