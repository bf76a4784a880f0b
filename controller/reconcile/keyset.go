package reconcile

import (
	"bytes"
	"slices"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// keySet is a set of public keys in a sorted slice: 32 bytes a key, where
// a map[wgtypes.Key]bool took about 43. The Reconciler keeps one a node
// (nodeState.managed) for as long as it runs: 100 keys a node at 10,000
// nodes were 43 MB as maps. Its zero value is the empty set; a keySet is
// never changed in place, so one may be read while another replaces it.
type keySet []wgtypes.Key

func compareKeys(a, b wgtypes.Key) int { return bytes.Compare(a[:], b[:]) }

// keySetOf returns the keys of m whose value is true.
func keySetOf(m map[wgtypes.Key]bool) keySet {
	s := make(keySet, 0, len(m))
	for k, ok := range m {
		if ok {
			s = append(s, k)
		}
	}
	slices.SortFunc(s, compareKeys)
	return s
}

// has reports whether k is in s.
func (s keySet) has(k wgtypes.Key) bool {
	_, ok := slices.BinarySearchFunc(s, k, compareKeys)
	return ok
}

// with returns s with keys added.
func (s keySet) with(keys ...wgtypes.Key) keySet {
	out := slices.Clone(s)
	for _, k := range keys {
		if i, ok := slices.BinarySearchFunc(out, k, compareKeys); !ok {
			out = slices.Insert(out, i, k)
		}
	}
	return slices.Clip(out)
}

// toMap returns s as a map of its keys to true.
func (s keySet) toMap() map[wgtypes.Key]bool {
	m := make(map[wgtypes.Key]bool, len(s))
	for _, k := range s {
		m[k] = true
	}
	return m
}
