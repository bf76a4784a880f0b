package agentapi

import (
	"crypto/ecdh"
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
// Low order is tested by the definition, not by a list of encodings: a
// clamped scalar is a multiple of 8, the cofactor, so its product with a
// point is zero exactly when the point's order divides 8; crypto/ecdh
// reports that product as an error. Every encoding of such a point,
// non-canonical ones and those with the top bit set included, is caught.
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

// lowOrderProbe is any 32-byte scalar: X25519 clamps it to a multiple of 8.
const lowOrderProbe = "wgfleet low-order probe scalar.."

// lowOrder reports whether k, read as an X25519 public key, is a point of
// order 1, 2, 4 or 8.
func lowOrder(k wgtypes.Key) bool {
	priv, err := ecdh.X25519().NewPrivateKey([]byte(lowOrderProbe))
	if err != nil {
		panic("agentapi: X25519 probe key: " + err.Error()) // 32 bytes: cannot fail
	}
	pub, err := ecdh.X25519().NewPublicKey(k[:])
	if err != nil {
		return true // not 32 bytes: cannot happen for a Key
	}
	_, err = priv.ECDH(pub)
	return err != nil
}
