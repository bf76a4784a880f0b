package tunnel

import (
	"encoding/binary"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// keySet is the set of peer keys a parse of the device's reply has met,
// to reject a peer reported twice. A reply of 10k peers adds 10k keys to
// it in every dump: keyed by all 32 bytes, a map spent about 100 ns a key
// hashing and comparing them; keyed by the first 8 bytes (which tell any
// two keys apart but for one pair in about 2^64), with the whole key
// checked where they are the same, about half. Keys that share their
// first 8 bytes with one already held (chosen so, or by chance) are held
// by the whole key. The zero keySet is empty; add makes it.
type keySet struct {
	keys   []wgtypes.Key            // every key, in the order added
	first  map[uint64]int32         // the key of keys with each prefix, added first
	shared map[wgtypes.Key]struct{} // the others with a prefix held
}

// keyPrefix is the first 8 bytes of k.
func keyPrefix(k *wgtypes.Key) uint64 { return binary.LittleEndian.Uint64(k[:8]) }

// has reports whether s holds k.
func (s *keySet) has(k wgtypes.Key) bool {
	n, ok := s.first[keyPrefix(&k)]
	if !ok {
		return false
	}
	if s.keys[n] == k {
		return true
	}
	_, ok = s.shared[k]
	return ok
}

// add puts k into s and reports whether it was there already; hint is
// about how many keys s will hold, to size it when it is made.
func (s *keySet) add(k wgtypes.Key, hint int) (had bool) {
	if s.first == nil {
		s.first = make(map[uint64]int32, hint)
		s.keys = make([]wgtypes.Key, 0, hint)
	}
	p := keyPrefix(&k)
	n, ok := s.first[p]
	switch {
	case !ok:
		s.first[p] = int32(len(s.keys))
	case s.keys[n] == k:
		return true
	default:
		if _, ok := s.shared[k]; ok {
			return true
		}
		if s.shared == nil {
			s.shared = make(map[wgtypes.Key]struct{})
		}
		s.shared[k] = struct{}{}
	}
	s.keys = append(s.keys, k)
	return false
}
