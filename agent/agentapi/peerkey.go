package agentapi

import (
	"fmt"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// CheckPeerKey is the one rule of which public keys may be a peer's, for the
// agent and the controller alike. It returns nil for a usable key and
// otherwise an error wrapping ErrBadKey that says why not:
//
//   - the all-zero key, which wireguard-go refuses;
//   - one of own, the public keys of the interfaces the peer would sit on
//     (the agent passes its interface's key, the controller every node's):
//     a device silently ignores a peer that holds its own key;
//   - a low-order Curve25519 point (the zero key is one), with which every
//     key agreement gives the all-zero secret, so no handshake can succeed.
//
// It is cheap (comparisons only): it runs for every peer of every request.
func CheckPeerKey(k wgtypes.Key, own ...wgtypes.Key) error {
	if k == (wgtypes.Key{}) {
		return fmt.Errorf("%w: the all-zero key is not a public key", ErrBadKey)
	}
	for _, o := range own {
		if k == o {
			return fmt.Errorf("%w: %s is the interface's own public key", ErrBadKey, k)
		}
	}
	if lowOrder(k) {
		return fmt.Errorf("%w: %s is a low-order Curve25519 point, with which no handshake can succeed", ErrBadKey, k)
	}
	return nil
}

// lowOrderPoints are the u-coordinates of every Curve25519 point (and
// twist point) of order 1, 2, 4 or 8, canonical and not, as libsodium's
// has_small_order lists them: 0, 1, the two of order 8, p-1, p and p+1.
// X25519 ignores the top bit, so a key matches with it set too. The test
// checks each against the definition (a clamped scalar times it is zero)
// and that usable keys are not caught.
const lowOrderPoints = "" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\xe0\xeb\x7a\x7c\x3b\x41\xb8\xae\x16\x56\xe3\xfa\xf1\x9f\xc4\x6a\xda\x09\x8d\xeb\x9c\x32\xb1\xfd\x86\x62\x05\x16\x5f\x49\xb8\x00" +
	"\x5f\x9c\x95\xbc\xa3\x50\x8c\x24\xb1\xd0\xb1\x55\x9c\x83\xef\x5b\x04\x44\x5c\xc4\x58\x1c\x8e\x86\xd8\x22\x4e\xdd\xd0\x9f\x11\x57" +
	"\xec\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f" +
	"\xed\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f" +
	"\xee\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f"

// lowOrder reports whether k, read as an X25519 public key, is a point of
// order 1, 2, 4 or 8.
func lowOrder(k wgtypes.Key) bool {
	k[31] &= 0x7f
	for i := 0; i < len(lowOrderPoints); i += 32 {
		if string(k[:]) == lowOrderPoints[i:i+32] {
			return true
		}
	}
	return false
}
