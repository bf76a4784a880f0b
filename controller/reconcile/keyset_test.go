package reconcile

import (
	"maps"
	"slices"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// TestKeySet holds keySet to the map it stands for: the same members
// after adds in any order and repeats, sorted without duplicates, and a
// set once made never changed by what is made from it.
func TestKeySet(t *testing.T) {
	keys := make([]wgtypes.Key, 40)
	for i := range keys {
		keys[i] = newKey(t)
	}
	want := map[wgtypes.Key]bool{}
	var s keySet
	for i, k := range append(slices.Clone(keys[:30]), keys[5:15]...) {
		before, beforeLen := s, len(s)
		s = s.with(k)
		want[k] = true
		if len(before) != beforeLen || (i < 30 && before.has(k)) {
			t.Fatalf("with changed the set it was made from, or a new key was there before")
		}
		if !maps.Equal(s.toMap(), want) {
			t.Fatalf("after adding %d keys: %d members, want %d", i+1, len(s), len(want))
		}
	}
	if !slices.IsSortedFunc(s, compareKeys) || len(slices.CompactFunc(slices.Clone(s), func(a, b wgtypes.Key) bool { return a == b })) != len(s) {
		t.Fatal("the set is not sorted without duplicates")
	}
	for _, k := range keys {
		if s.has(k) != want[k] {
			t.Errorf("has(%v) = %v, want %v", k, s.has(k), want[k])
		}
	}
	m := map[wgtypes.Key]bool{keys[0]: true, keys[1]: false, keys[2]: true}
	if got := keySetOf(m); len(got) != 2 || !got.has(keys[0]) || got.has(keys[1]) || !got.has(keys[2]) {
		t.Errorf("keySetOf(%v) = %v: want the keys mapped to true", m, got)
	}
	if got := keySet(nil).with(keys[3], keys[4], keys[3]); len(got) != 2 || !got.has(keys[3]) || !got.has(keys[4]) {
		t.Errorf("with of a repeated key: %v", got)
	}
}
