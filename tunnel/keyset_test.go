package tunnel

import (
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// sharedPrefixKey is a key whose first 8 bytes are prefix's and whose
// others are all b.
func sharedPrefixKey(prefix, b byte) wgtypes.Key {
	var k wgtypes.Key
	for i := range k {
		k[i] = b
		if i < 8 {
			k[i] = prefix
		}
	}
	return k
}

func TestKeySet(t *testing.T) {
	a, b, c := sharedPrefixKey(1, 1), sharedPrefixKey(1, 2), sharedPrefixKey(1, 3)
	other := sharedPrefixKey(2, 1)
	for _, tc := range []struct {
		name string
		adds []wgtypes.Key
		had  []bool // add's answer for each
	}{
		{"empty", nil, nil},
		{"distinct prefixes", []wgtypes.Key{a, other}, []bool{false, false}},
		{"the same key twice", []wgtypes.Key{a, a}, []bool{false, true}},
		{"a shared prefix is not a repeat", []wgtypes.Key{a, b, c}, []bool{false, false, false}},
		{"a repeat of the first with that prefix", []wgtypes.Key{a, b, a}, []bool{false, false, true}},
		{"a repeat of a later one with that prefix", []wgtypes.Key{a, b, c, b, c}, []bool{false, false, false, true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s keySet
			want := map[wgtypes.Key]bool{}
			for n, k := range tc.adds {
				if got := s.add(k, 4); got != tc.had[n] {
					t.Fatalf("add #%d: %v, want %v", n, got, tc.had[n])
				}
				want[k] = true
			}
			for _, k := range []wgtypes.Key{a, b, c, other, {}} {
				if got := s.has(k); got != want[k] {
					t.Errorf("has(%x...) = %v, want %v", k[:9], got, want[k])
				}
			}
			if len(s.keys) != len(want) {
				t.Errorf("%d keys held, want %d", len(s.keys), len(want))
			}
		})
	}
}

// FuzzKeySet holds keySet to a map, with keys from few prefixes so that
// many share one.
func FuzzKeySet(f *testing.F) {
	f.Add([]byte{1, 1, 1, 2, 1, 1, 2, 2})
	f.Add([]byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s keySet
		want := map[wgtypes.Key]bool{}
		for ; len(b) >= 2; b = b[2:] {
			k := sharedPrefixKey(b[0]%3, b[1]%4)
			if got := s.add(k, 0); got != want[k] {
				t.Fatalf("add(%x...) = %v, want %v", k[:9], got, want[k])
			}
			want[k] = true
			for p := range byte(3) {
				for r := range byte(4) {
					k := sharedPrefixKey(p, r)
					if s.has(k) != want[k] {
						t.Fatalf("has(%x...) = %v, want %v", k[:9], s.has(k), want[k])
					}
				}
			}
		}
	})
}
