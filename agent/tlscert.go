package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// Files of the self-signed certificate in the state directory.
const (
	TLSCertFile = "tls.crt" // PEM certificate, mode 0600 like everything there
	TLSKeyFile  = "tls.key" // PEM PKCS#8 ECDSA P-256 private key, mode 0600
)

// selfSignedValidity is how long a self-signed certificate is valid. The
// controller pins it by fingerprint and does not look at its dates; the
// dates are for other clients (curl -k, a browser) only.
const selfSignedValidity = 20 * 365 * 24 * time.Hour

// EnsureSelfSignedCert returns the agent's self-signed certificate from
// stateDir (TLSCertFile and TLSKeyFile), making it on first use: an ECDSA
// P-256 key written with mode 0600 and a certificate for the host's name,
// "localhost", 127.0.0.1 and ::1. Later calls return the same certificate,
// so its fingerprint (agentapi.FingerprintOf its DER, what the controller
// pins) stays the same across restarts. A pair that is half there, or does
// not load, is an error: it is never replaced silently, as that would
// break the controller's pin; remove both files to make a new one (and
// re-pin the node).
func EnsureSelfSignedCert(stateDir string) (tls.Certificate, agentapi.Fingerprint, error) {
	certPath := filepath.Join(stateDir, TLSCertFile)
	keyPath := filepath.Join(stateDir, TLSKeyFile)
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		return LoadCert(certPath, keyPath)
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
	case certErr == nil || keyErr == nil:
		return tls.Certificate{}, agentapi.Fingerprint{}, fmt.Errorf("TLS certificate: only one of %s and %s exists; remove it to make a new pair (and re-pin the node)", certPath, keyPath)
	default:
		return tls.Certificate{}, agentapi.Fingerprint{}, fmt.Errorf("TLS certificate: %w", errors.Join(certErr, keyErr))
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return tls.Certificate{}, agentapi.Fingerprint{}, fmt.Errorf("creating state directory: %w", err)
	}
	certPEM, keyPEM, err := newSelfSigned(time.Now())
	if err != nil {
		return tls.Certificate{}, agentapi.Fingerprint{}, err
	}
	// The key first: a crash between the two writes leaves a key without a
	// certificate, which the next start reports instead of guessing.
	if err := writeFileAtomic(keyPath, keyPEM); err != nil {
		return tls.Certificate{}, agentapi.Fingerprint{}, fmt.Errorf("TLS key: %w", err)
	}
	if err := writeFileAtomic(certPath, certPEM); err != nil {
		return tls.Certificate{}, agentapi.Fingerprint{}, fmt.Errorf("TLS certificate: %w", err)
	}
	return LoadCert(certPath, keyPath)
}

// LoadCert loads a PEM certificate (chain) and its private key, and
// returns the pair with the fingerprint of the leaf, the first
// certificate. A key file with any permission for others is refused (one
// readable by its group, like Debian's ssl-cert, is taken).
func LoadCert(certFile, keyFile string) (tls.Certificate, agentapi.Fingerprint, error) {
	st, err := os.Stat(keyFile)
	if err != nil {
		return tls.Certificate{}, agentapi.Fingerprint{}, fmt.Errorf("TLS key: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o007 != 0 {
		return tls.Certificate{}, agentapi.Fingerprint{}, fmt.Errorf("TLS key file %s has mode %v; it must not be readable by others (chmod 600)", keyFile, perm)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, agentapi.Fingerprint{}, fmt.Errorf("loading TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	return cert, agentapi.FingerprintOf(cert.Certificate[0]), nil
}

// newSelfSigned makes a P-256 key and a certificate for it, valid from an
// hour before now, both PEM-encoded.
func newSelfSigned(now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generating TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("generating certificate serial: %w", err)
	}
	names := []string{"localhost"}
	host, _ := os.Hostname()
	if host != "" && host != "localhost" {
		names = append([]string{host}, names...)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "wg-agent " + names[0]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("making TLS certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding TLS key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}
