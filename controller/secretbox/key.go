package secretbox

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ParseKey decodes a master key given as text, as in
// WG_CONTROLLER_MASTER_KEY: standard base64 (44 characters, padded) or hex
// (64 characters) of exactly KeySize bytes. Surrounding white space is
// ignored. Errors never quote the input.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("secretbox: master key is empty")
	}
	if len(s) == hex.EncodedLen(KeySize) {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("secretbox: master key is neither base64 nor hex of %d bytes", KeySize)
	}
	if len(k) != KeySize {
		return nil, fmt.Errorf("secretbox: master key decodes to %d bytes, want %d", len(k), KeySize)
	}
	return k, nil
}

// LoadOrCreateKeyFile returns the raw KeySize-byte master key stored in the
// file at path.
//
// When the file does not exist it makes the directory (mode 0700) if
// needed, creates the file exclusively with mode 0600 and fills it with
// random bytes. An existing file is refused when it is not a regular file,
// when its permissions are wider than 0600, or when it does not hold
// exactly KeySize bytes; it is never rewritten, because replacing the key
// would make every sealed secret unreadable.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("secretbox: creating key directory: %w", err)
	}
	key = make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("secretbox: generating master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		// Another process created it between our read and our create.
		return readKeyFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("secretbox: creating key file: %w", err)
	}
	_, err = f.Write(key)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		// Nothing was sealed under this key yet, so removing the partial
		// file is safe and lets the next start try again.
		_ = os.Remove(path)
		return nil, fmt.Errorf("secretbox: writing key file: %w", err)
	}
	return key, nil
}

// LoadKeyFile reads the existing master key file at path, checked as
// LoadOrCreateKeyFile checks it, and never creates one: a missing file is
// an error wrapping fs.ErrNotExist.
func LoadKeyFile(path string) ([]byte, error) { return readKeyFile(path) }

// readKeyFile reads and checks an existing key file. It returns an error
// wrapping fs.ErrNotExist when there is none.
func readKeyFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secretbox: key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secretbox: key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&^0o600 != 0 {
		return nil, fmt.Errorf("secretbox: key file %s has mode %#o, refusing anything wider than 0600 (run: chmod 600 %s)", path, perm, path)
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secretbox: reading key file: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("secretbox: key file %s holds %d bytes, want exactly %d raw bytes", path, len(key), KeySize)
	}
	return key, nil
}
