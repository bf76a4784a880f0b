package controller_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

// fixture is a data directory holding a node and a peer with keys.
type fixture struct {
	dir  string
	node store.Node
	peer store.Peer
}

func newFixture(t *testing.T, key []byte) fixture {
	t.Helper()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	st, err := controller.OpenStore(ctx, dir, "", key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	node, err := st.CreateNode(ctx, storetest.Node("fra1", "http://127.0.0.1:1", "node-secret-0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	peer, _ := storetest.PeerWithKeys(t, st, node.ID, "laptop")
	return fixture{dir: dir, node: node, peer: peer}
}

// check opens the data directory with key (nil: the key file) and finds
// the fixture's secrets.
func (f fixture) check(t *testing.T, key []byte) {
	t.Helper()
	ctx := context.Background()
	st, err := controller.OpenStore(ctx, f.dir, "", key)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n, err := st.GetNode(ctx, f.node.ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.GetPeer(ctx, f.peer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(n.Secret, f.node.Secret) || *p.PrivateKey != *f.peer.PrivateKey || *p.PresharedKey != *f.peer.PresharedKey {
		t.Fatal("secrets differ")
	}
}

func readKey(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

// openWith opens the database in dir under key without any recovery.
func openWith(dir string, key []byte) error {
	box, err := secretbox.New(key)
	if err != nil {
		return err
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, controller.DBFile), box)
	if err != nil {
		return err
	}
	return st.Close()
}

func TestRekeyKeyFile(t *testing.T) {
	f := newFixture(t, nil)
	keyPath := filepath.Join(f.dir, controller.KeyFile)
	oldKey := readKey(t, keyPath)

	newKey, n, err := controller.Rekey(context.Background(), f.dir, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Resealed{Nodes: 1, PrivateKeys: 1, PresharedKeys: 1}); n != want {
		t.Fatalf("Resealed = %+v, want %+v", n, want)
	}
	if got := readKey(t, keyPath); !bytes.Equal(got, newKey) || bytes.Equal(got, oldKey) {
		t.Fatal("master.key does not hold the new key")
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("master.key: %v, %v", fi, err)
	}
	if _, err := os.Stat(filepath.Join(f.dir, controller.NewKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("master.key.new left behind: %v", err)
	}
	if err := openWith(f.dir, oldKey); !errors.Is(err, store.ErrWrongMasterKey) {
		t.Fatalf("old key opens the database: %v", err)
	}
	f.check(t, nil)
}

func TestRekeyEnvKey(t *testing.T) {
	oldKey := randomKey(t)
	f := newFixture(t, oldKey)
	newKey, n, err := controller.Rekey(context.Background(), f.dir, "", oldKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n.Nodes != 1 || len(newKey) != secretbox.KeySize || bytes.Equal(newKey, oldKey) {
		t.Fatalf("Rekey = %d-byte key, %+v", len(newKey), n)
	}
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), controller.KeyFile) {
			t.Errorf("key file %s written with an environment key", e.Name())
		}
	}
	if err := openWith(f.dir, oldKey); !errors.Is(err, store.ErrWrongMasterKey) {
		t.Fatalf("old key opens the database: %v", err)
	}
	f.check(t, newKey)
}

func TestRekeyRefuses(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	if _, _, err := controller.Rekey(ctx, empty, "", nil, nil); err == nil {
		t.Fatal("Rekey of an empty directory succeeded")
	}
	if _, err := os.Stat(filepath.Join(empty, controller.KeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Rekey of an empty directory made a key file: %v", err)
	}
	envKey := randomKey(t)
	f := newFixture(t, envKey)
	if _, _, err := controller.Rekey(ctx, f.dir, "", nil, nil); err == nil {
		t.Fatal("Rekey with the key file where the key is in the environment succeeded")
	}
	if _, _, err := controller.Rekey(ctx, f.dir, "", randomKey(t), nil); !errors.Is(err, store.ErrWrongMasterKey) {
		t.Fatalf("Rekey with a wrong key = %v, want ErrWrongMasterKey", err)
	}
	f.check(t, envKey)
}

// TestRekeyFailureKeepsOldKey breaks one sealed value: the reseal fails,
// master.key.new is removed and the old key still opens everything else.
func TestRekeyFailureKeepsOldKey(t *testing.T) {
	f := newFixture(t, nil)
	keyPath := filepath.Join(f.dir, controller.KeyFile)
	oldKey := readKey(t, keyPath)
	box, err := secretbox.New(oldKey)
	if err != nil {
		t.Fatal(err)
	}
	// A value sealed for another row does not open in this one.
	wrong, err := box.Seal(f.peer.PresharedKey[:], "peer:999:preshared_key")
	if err != nil {
		t.Fatal(err)
	}
	execSQL(t, f.dir, "UPDATE peers SET preshared_key_enc = ? WHERE id = ?", wrong, f.peer.ID)

	if _, _, err := controller.Rekey(context.Background(), f.dir, "", nil, nil); !errors.Is(err, secretbox.ErrOpen) {
		t.Fatalf("Rekey = %v, want secretbox.ErrOpen", err)
	}
	if !bytes.Equal(readKey(t, keyPath), oldKey) {
		t.Fatal("master.key changed")
	}
	if _, err := os.Stat(filepath.Join(f.dir, controller.NewKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("master.key.new left behind: %v", err)
	}
	if err := openWith(f.dir, oldKey); err != nil {
		t.Fatalf("old key after a failed rekey: %v", err)
	}
}

// TestOpenStoreFinishesInterruptedRekey: the reseal committed but the
// process died before renaming master.key.new; the next start renames it.
func TestOpenStoreFinishesInterruptedRekey(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	keyPath, newPath := filepath.Join(f.dir, controller.KeyFile), filepath.Join(f.dir, controller.NewKeyFile)
	newKey := randomKey(t)
	if err := os.WriteFile(newPath, newKey, 0o600); err != nil {
		t.Fatal(err)
	}
	resealTo(t, f.dir, readKey(t, keyPath), newKey)

	var logs bytes.Buffer
	c, err := controller.New(ctx, controller.Config{
		Listen: "127.0.0.1:0", DataDir: f.dir, PollInterval: time.Minute, AdminPassword: "correct horse battery staple",
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "finished an interrupted rekey") {
		t.Errorf("the recovery was not logged: %s", logs.String())
	}
	if !bytes.Equal(readKey(t, keyPath), newKey) {
		t.Fatal("master.key is not the new key")
	}
	if _, err := os.Stat(newPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("master.key.new left behind: %v", err)
	}
	f.check(t, nil)
}

// TestOpenStoreRemovesStaleNewKey: the process died before the reseal
// committed; master.key still opens the database and the new key goes.
func TestOpenStoreRemovesStaleNewKey(t *testing.T) {
	f := newFixture(t, nil)
	keyPath, newPath := filepath.Join(f.dir, controller.KeyFile), filepath.Join(f.dir, controller.NewKeyFile)
	oldKey := readKey(t, keyPath)
	if err := os.WriteFile(newPath, randomKey(t), 0o600); err != nil {
		t.Fatal(err)
	}
	f.check(t, nil)
	if !bytes.Equal(readKey(t, keyPath), oldKey) {
		t.Fatal("master.key changed")
	}
	if _, err := os.Stat(newPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale master.key.new kept: %v", err)
	}
}

// TestOpenStoreWrongKeysKeepFiles: neither key opens the database; both
// files stay for the operator and the error says the key is wrong.
func TestOpenStoreWrongKeysKeepFiles(t *testing.T) {
	f := newFixture(t, nil)
	keyPath, newPath := filepath.Join(f.dir, controller.KeyFile), filepath.Join(f.dir, controller.NewKeyFile)
	resealTo(t, f.dir, readKey(t, keyPath), randomKey(t))
	if err := os.WriteFile(newPath, randomKey(t), 0o600); err != nil {
		t.Fatal(err)
	}
	before, beforeNew := readKey(t, keyPath), readKey(t, newPath)
	if _, err := controller.OpenStore(context.Background(), f.dir, "", nil); !errors.Is(err, store.ErrWrongMasterKey) {
		t.Fatalf("OpenStore = %v, want ErrWrongMasterKey", err)
	}
	if !bytes.Equal(readKey(t, keyPath), before) || !bytes.Equal(readKey(t, newPath), beforeNew) {
		t.Fatal("key files changed")
	}
}

// resealTo moves the database in dir from one key to another with
// store.Reseal alone, as a rekey that died before its rename leaves it.
func resealTo(t *testing.T, dir string, from, to []byte) {
	t.Helper()
	oldBox, err := secretbox.New(from)
	if err != nil {
		t.Fatal(err)
	}
	newBox, err := secretbox.New(to)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(dir, controller.DBFile), oldBox)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Reseal(context.Background(), newBox); err != nil {
		t.Fatal(err)
	}
}

// execSQL runs one statement on the database in dir, behind the store's
// back, to break what a test needs broken.
func execSQL(t *testing.T, dir, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(dir, controller.DBFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
}
