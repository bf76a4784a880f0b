// Package storetest opens real stores for other packages' tests: a SQLite
// file in the test's temporary directory under a fresh random master key,
// closed when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

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
