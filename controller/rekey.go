package controller

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
)

// NewKeyFile is the name of the next master key in the data directory
// while a rekey is under way. OpenStore finishes or discards it.
const NewKeyFile = KeyFile + ".new"

// Rekey rotates the master key of the database in dataDir: it makes a new
// random key and reseals every secret under it in one transaction. The
// controller must be stopped; Rekey opens the database directly.
//
// currentKey is the key from WG_CONTROLLER_MASTER_KEY; then no file is
// written and the caller must hand the returned key to the operator, who
// replaces the environment's key before the next start. nil means the key
// file dataDir/master.key: the new key is written to master.key.new
// (0600, synced) before the reseal and renamed over master.key after it
// commits, so a crash at any point leaves a key that opens the database;
// OpenStore completes or discards the interrupted step. log receives what
// that recovery did; nil discards it.
func Rekey(ctx context.Context, dataDir, database string, currentKey []byte, log *slog.Logger) ([]byte, store.Resealed, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if database == "" {
		if _, err := os.Stat(filepath.Join(dataDir, DBFile)); err != nil {
			return nil, store.Resealed{}, fmt.Errorf("rekey: no database in %s: %w", dataDir, err)
		}
	}
	if currentKey == nil {
		if _, err := os.Stat(filepath.Join(dataDir, KeyFile)); err != nil {
			return nil, store.Resealed{}, fmt.Errorf("rekey: no key file in %s (is the key in WG_CONTROLLER_MASTER_KEY?): %w", dataDir, err)
		}
	}
	st, err := openStore(ctx, dataDir, database, currentKey, log)
	if err != nil {
		return nil, store.Resealed{}, fmt.Errorf("rekey: %w", err)
	}
	defer st.Close()

	newKey := make([]byte, secretbox.KeySize)
	if _, err := rand.Read(newKey); err != nil {
		return nil, store.Resealed{}, fmt.Errorf("rekey: generating the new key: %w", err)
	}
	newBox, err := secretbox.New(newKey)
	if err != nil {
		return nil, store.Resealed{}, fmt.Errorf("rekey: %w", err)
	}
	if currentKey != nil {
		n, err := st.Reseal(ctx, newBox)
		if err != nil {
			return nil, store.Resealed{}, fmt.Errorf("rekey: %w", err)
		}
		return newKey, n, st.Close()
	}

	newPath := filepath.Join(dataDir, NewKeyFile)
	if err := writeKeyFile(newPath, newKey); err != nil {
		return nil, store.Resealed{}, fmt.Errorf("rekey: %w", err)
	}
	n, err := st.Reseal(ctx, newBox)
	if err != nil {
		// Nothing was committed: the old key stays the key.
		return nil, store.Resealed{}, errors.Join(fmt.Errorf("rekey: %w", err), removeSynced(newPath))
	}
	if err := st.Close(); err != nil {
		return nil, store.Resealed{}, fmt.Errorf("rekey: closing the database (the secrets are resealed; the next start finishes the rename of %s): %w", NewKeyFile, err)
	}
	if err := renameSynced(newPath, filepath.Join(dataDir, KeyFile)); err != nil {
		return nil, store.Resealed{}, fmt.Errorf("rekey: the secrets are resealed under %s but it could not replace %s (the next start finishes it): %w", NewKeyFile, KeyFile, err)
	}
	return newKey, n, nil
}

// openStore is OpenStore with a logger. With the key file it recovers
// from a rekey that was interrupted: when master.key no longer opens the
// database and master.key.new does, the reseal had committed and the
// rename is finished here; when master.key opens it, a master.key.new is
// from a reseal that never committed and is removed.
func openStore(ctx context.Context, dataDir, database string, masterKey []byte, log *slog.Logger) (*store.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	if masterKey != nil {
		return openWithKey(ctx, dataDir, database, masterKey)
	}
	keyPath, newPath := filepath.Join(dataDir, KeyFile), filepath.Join(dataDir, NewKeyFile)
	key, err := secretbox.LoadOrCreateKeyFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	st, err := openWithKey(ctx, dataDir, database, key)
	_, statErr := os.Lstat(newPath)
	pending := statErr == nil
	switch {
	case err == nil && pending:
		if rerr := removeSynced(newPath); rerr != nil {
			st.Close()
			return nil, rerr
		}
		log.Warn("removed the new master key of an interrupted rekey; the database is still sealed with the old one", "file", newPath)
		return st, nil
	case err == nil || !pending || !errors.Is(err, store.ErrWrongMasterKey):
		return st, err
	}
	newKey, nerr := secretbox.LoadOrCreateKeyFile(newPath)
	if nerr != nil {
		return nil, errors.Join(err, fmt.Errorf("trying %s: %w", NewKeyFile, nerr))
	}
	st, nerr = openWithKey(ctx, dataDir, database, newKey)
	if nerr != nil {
		return nil, errors.Join(err, fmt.Errorf("trying %s: %w", NewKeyFile, nerr))
	}
	if rerr := renameSynced(newPath, keyPath); rerr != nil {
		st.Close()
		return nil, fmt.Errorf("finishing an interrupted rekey: %w", rerr)
	}
	log.Warn("finished an interrupted rekey: the database is sealed with the new master key, which now replaces the old one", "file", keyPath)
	return st, nil
}

// openWithKey opens the database (database, or the SQLite file in
// dataDir when it is "") under key.
func openWithKey(ctx context.Context, dataDir, database string, key []byte) (*store.Store, error) {
	box, err := secretbox.New(key)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	dsn := database
	if dsn == "" {
		dsn = filepath.Join(dataDir, DBFile)
	}
	st, err := store.Open(ctx, dsn, box)
	if err != nil {
		return nil, fmt.Errorf("opening database: %w", err)
	}
	return st, nil
}

// writeKeyFile creates path (which must not exist) with mode 0600, writes
// key and syncs the file and its directory.
func writeKeyFile(path string, key []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Base(path), err)
	}
	_, err = f.Write(key)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
	}
	return nil
}

// renameSynced renames from over to and syncs the directory.
func renameSynced(from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("renaming %s: %w", filepath.Base(from), err)
	}
	return syncDir(filepath.Dir(to))
}

// removeSynced removes path and syncs its directory; a missing path is
// not an error.
func removeSynced(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", filepath.Base(path), err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes the directory's entries (a created, renamed or removed
// file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
