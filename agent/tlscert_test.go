package agent_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// TestEnsureSelfSignedCert: the first call makes a P-256 pair with a key
// of mode 0600, later calls return the same certificate (the same
// fingerprint), and a half or broken pair is an error, never replaced.
func TestEnsureSelfSignedCert(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	cert, fp, err := agent.EnsureSelfSignedCert(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fp != agentapi.FingerprintOf(cert.Certificate[0]) || fp.IsZero() {
		t.Fatalf("fingerprint %v is not that of the certificate", fp)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if pub, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Fatalf("public key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if err := leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature); err != nil {
		t.Fatalf("not self-signed: %v", err)
	}
	if err := leaf.VerifyHostname("localhost"); err != nil {
		t.Errorf("certificate does not name localhost: %v", err)
	}
	for _, name := range []string{agent.TLSKeyFile, agent.TLSCertFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}

	_, again, err := agent.EnsureSelfSignedCert(dir)
	if err != nil || again != fp {
		t.Fatalf("second call: fingerprint %v, %v; want the first's %v", again, err, fp)
	}

	keyPEM, err := os.ReadFile(filepath.Join(dir, agent.TLSKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    string
	}{
		{"only the key", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, agent.TLSKeyFile), keyPEM, 0o600)
		}, "only one of"},
		{"a broken certificate", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, agent.TLSKeyFile), keyPEM, 0o600)
			writeFile(t, filepath.Join(dir, agent.TLSCertFile), []byte("not PEM"), 0o600)
		}, "loading TLS certificate"},
		{"a key readable by others", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, agent.TLSKeyFile), keyPEM, 0o604)
			writeFile(t, filepath.Join(dir, agent.TLSCertFile), []byte("x"), 0o600)
		}, "chmod 600"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			before := listDir(t, dir)
			_, _, err := agent.EnsureSelfSignedCert(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want one saying %q", err, tt.want)
			}
			if after := listDir(t, dir); after != before {
				t.Fatalf("the state directory changed from %s to %s", before, after)
			}
		})
	}
}

func writeFile(t *testing.T, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// listDir names the files of dir with their sizes.
func listDir(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s:%v:%d ", e.Name(), info.Mode(), info.Size())
	}
	return b.String()
}
