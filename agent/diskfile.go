package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/wgfleet/wgfleet/agent/agentapi"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// writeFileAtomic writes data to path with mode 0600 so that a reader sees
// either the old or the new content, never a mix, even across a crash.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replacing %s: %w", path, err)
	}
	return syncDir(dir)
}

// syncDir makes a rename, creation or removal in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// loadOrCreateKey reads the interface's private key from path, or makes one
// with mode 0600 on first start. The key never leaves the node.
func loadOrCreateKey(path string) (wgtypes.Key, error) {
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		k, perr := agentapi.ParseKey(string(bytes.TrimSpace(data)))
		if perr != nil {
			return wgtypes.Key{}, fmt.Errorf("private key file %s is not a valid key", path)
		}
		if st, serr := os.Stat(path); serr == nil && st.Mode().Perm()&0o077 != 0 {
			return wgtypes.Key{}, fmt.Errorf("private key file %s has mode %v; it must not be readable by group or others (chmod 600)", path, st.Mode().Perm())
		}
		return k, nil
	case errors.Is(err, fs.ErrNotExist):
		k, gerr := wgtypes.GeneratePrivateKey()
		if gerr != nil {
			return wgtypes.Key{}, fmt.Errorf("generating private key: %w", gerr)
		}
		if werr := writeFileAtomic(path, []byte(k.String()+"\n")); werr != nil {
			return wgtypes.Key{}, werr
		}
		return k, nil
	default:
		return wgtypes.Key{}, fmt.Errorf("reading private key: %w", err)
	}
}
