// Package storetest opens real stores for other packages' tests: a SQLite
// file in the test's temporary directory under a fresh random master key,
// closed when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"net/netip"
	"path/filepath"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Open returns a migrated store in a fresh file.
func Open(t testing.TB) *store.Store {
	t.Helper()
	key := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "controller.db"), box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Node is a valid, enabled node for the agent at agentURL with secret: a
// /24 IPv4 pool, interface wg0 and the default weight.
func Node(name, agentURL, secret string) store.Node {
	return store.Node{
		Name: name, AgentURL: agentURL, Secret: []byte(secret), Endpoint: name + ".example.net:51820",
		IPPool: netip.MustParsePrefix("10.8.0.0/24"), Enabled: true, Weight: store.DefaultWeight, WGInterface: "wg0",
	}
}

// PeerWithKeys creates, on node nodeID, an enabled peer whose private and
// preshared keys the controller holds, and returns it with its private key.
func PeerWithKeys(t testing.TB, st *store.Store, nodeID int64, name string) (store.Peer, wgtypes.Key) {
	t.Helper()
	priv, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	psk, err := wgtypes.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.CreatePeerWithAllocation(context.Background(), store.Peer{
		NodeID: nodeID, Name: name, PublicKey: priv.PublicKey(), PrivateKey: &priv, PresharedKey: &psk, Enabled: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, priv
}
