package agentapi

import (
	"crypto/ecdh"
	"encoding/hex"
	"errors"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// lowOrderVectors are the encodings of the Curve25519 points of order 1, 2,
// 4 and 8 (libsodium's list), canonical and not; each is also tried with
// the top bit set, which X25519 ignores.
var lowOrderVectors = []string{
	"0000000000000000000000000000000000000000000000000000000000000000", // 0, order 4
	"0100000000000000000000000000000000000000000000000000000000000000", // 1, order 1
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800", // order 8
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157", // order 8
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p-1, order 2
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p = 0
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // p+1 = 1
}

func TestCheckPeerKey(t *testing.T) {
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	own := priv.PublicKey()
	for i, h := range lowOrderVectors {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			t.Fatalf("point %d: bad test vector", i)
		}
		for _, top := range []byte{0, 0x80} {
			k := wgtypes.Key(b)
			k[31] |= top
			if !lowOrderByDefinition(t, k) {
				t.Fatalf("test vector %d is not of low order", i)
			}
			err := CheckPeerKey(k, own)
			if !errors.Is(err, ErrBadKey) {
				t.Errorf("low-order point %d (top bit %#x) accepted: %v", i, top, err)
			}
		}
	}
	if err := CheckPeerKey(wgtypes.Key{}); err == nil || !errors.Is(err, ErrBadRequest) {
		t.Errorf("zero key: %v, want a bad request", err)
	}
	if err := CheckPeerKey(own, wgtypes.Key{1}, own); !errors.Is(err, ErrBadKey) {
		t.Errorf("own key accepted: %v", err)
	}
	for i := 0; i < 200; i++ {
		p, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			t.Fatal(err)
		}
		if err := CheckPeerKey(p.PublicKey(), own); err != nil {
			t.Fatalf("usable key %d refused: %v", i, err)
		}
		// Random 32 bytes too: CheckPeerKey and the definition agree.
		var r wgtypes.Key
		copy(r[:], p[:])
		if lowOrderByDefinition(t, r) != (CheckPeerKey(r) != nil) {
			t.Fatalf("CheckPeerKey and the definition disagree on %s", r)
		}
	}
	// The rule must not refuse by a sample of byte patterns either: a
	// point that is merely unusual (not of low order) is a key.
	var odd wgtypes.Key
	odd[0] = 9 // the base point
	if err := CheckPeerKey(odd); err != nil {
		t.Errorf("the base point refused: %v", err)
	}
}

// lowOrderByDefinition: a clamped scalar is a multiple of the cofactor 8,
// so its product with k is zero exactly when k's order divides 8, which
// crypto/ecdh reports as an error.
func lowOrderByDefinition(t *testing.T, k wgtypes.Key) bool {
	t.Helper()
	priv, err := ecdh.X25519().NewPrivateKey([]byte("wgfleet low-order probe scalar.."))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ecdh.X25519().NewPublicKey(k[:])
	if err != nil {
		t.Fatal(err)
	}
	_, err = priv.ECDH(pub)
	return err != nil
}
