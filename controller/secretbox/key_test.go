package secretbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseKey(t *testing.T) {
	key := make([]byte, KeySize)
	for i := range key {
		key[i] = byte(i * 7)
	}
	tests := []struct {
		name    string
		in      string
		wantErr bool
	}{
		{"base64", base64.StdEncoding.EncodeToString(key), false},
		{"base64 with newline", base64.StdEncoding.EncodeToString(key) + "\n", false},
		{"hex lower", hex.EncodeToString(key), false},
		{"hex upper", strings.ToUpper(hex.EncodeToString(key)), false},
		{"empty", "", true},
		{"spaces", "   ", true},
		{"base64 short", base64.StdEncoding.EncodeToString(key[:16]), true},
		{"base64 long", base64.StdEncoding.EncodeToString(append(key, 1)), true},
		{"hex short", hex.EncodeToString(key[:31]), true},
		{"garbage", "not a key at all", true},
		{"raw base64 unpadded", base64.RawStdEncoding.EncodeToString(key), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseKey(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParseKey(%q) succeeded", tt.in)
				}
				if tt.in != "" && strings.TrimSpace(tt.in) != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) {
					t.Fatalf("error quotes the key material: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, key) {
				t.Fatalf("ParseKey = %x, want %x", got, key)
			}
		})
	}
}

func TestLoadOrCreateKeyFileCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "keys")
	path := filepath.Join(dir, "master.key")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != KeySize {
		t.Fatalf("key length %d", len(k1))
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %#o, want 0600", perm)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm&^0o700 != 0 {
		t.Errorf("key dir mode %#o, want at most 0700", perm)
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) {
		t.Fatal("second load returned a different key")
	}
	if _, err := New(k2); err != nil {
		t.Fatal(err)
	}
}

func TestLoadOrCreateKeyFileRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, path string)
		wantMsg string
	}{
		{"group readable", func(t *testing.T, path string) {
			writeFile(t, path, make([]byte, KeySize), 0o640)
		}, "0640"},
		{"world readable", func(t *testing.T, path string) {
			writeFile(t, path, make([]byte, KeySize), 0o604)
		}, "wider than 0600"},
		{"owner executable", func(t *testing.T, path string) {
			writeFile(t, path, make([]byte, KeySize), 0o700)
		}, "wider than 0600"},
		{"too short", func(t *testing.T, path string) {
			writeFile(t, path, make([]byte, 16), 0o600)
		}, "holds 16 bytes"},
		{"empty", func(t *testing.T, path string) {
			writeFile(t, path, nil, 0o600)
		}, "holds 0 bytes"},
		{"base64 text instead of raw", func(t *testing.T, path string) {
			writeFile(t, path, []byte(base64.StdEncoding.EncodeToString(make([]byte, KeySize))), 0o600)
		}, "holds 44 bytes"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "master.key")
			tt.setup(t, path)
			before, _ := os.ReadFile(path)
			_, err := LoadOrCreateKeyFile(path)
			if err == nil {
				t.Fatal("LoadOrCreateKeyFile succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not mention %q", err, tt.wantMsg)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Fatal("refused key file was modified")
			}
		})
	}
}

func writeFile(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	// WriteFile's mode is filtered by the umask; set it exactly.
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
