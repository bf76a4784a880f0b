package agent

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// TLSMode is how the agent's API is served.
type TLSMode string

const (
	// TLSOff serves plain HTTP, as agents of the older design do.
	TLSOff TLSMode = "off"
	// TLSAuto serves HTTPS with a self-signed certificate kept in the
	// state directory (EnsureSelfSignedCert); the controller pins it.
	TLSAuto TLSMode = "auto"
	// TLSFiles serves HTTPS with a certificate and key given as files.
	TLSFiles TLSMode = "files"
)

// TLSConfig is the agent's --tls setting. The zero value is TLSOff.
type TLSConfig struct {
	Mode TLSMode
	// CertFile and KeyFile are PEM files, set with TLSFiles only.
	CertFile, KeyFile string
}

// ParseTLS reads --tls: "off", "auto" or "CERT,KEY" (two file paths);
// "" is off.
func ParseTLS(s string) (TLSConfig, error) {
	switch s {
	case "", string(TLSOff):
		return TLSConfig{Mode: TLSOff}, nil
	case string(TLSAuto):
		return TLSConfig{Mode: TLSAuto}, nil
	}
	cert, key, ok := strings.Cut(s, ",")
	if !ok || cert == "" || key == "" || strings.Contains(key, ",") {
		return TLSConfig{}, fmt.Errorf("tls %q must be auto, off or CERT,KEY (a certificate file and a key file)", s)
	}
	return TLSConfig{Mode: TLSFiles, CertFile: cert, KeyFile: key}, nil
}

// String is the form ParseTLS reads.
func (c TLSConfig) String() string {
	switch c.Mode {
	case TLSFiles:
		return c.CertFile + "," + c.KeyFile
	case "":
		return string(TLSOff)
	}
	return string(c.Mode)
}

// check says what is wrong with c.
func (c TLSConfig) check() error {
	switch c.Mode {
	case "", TLSOff, TLSAuto:
		if c.CertFile != "" || c.KeyFile != "" {
			return fmt.Errorf("tls %s takes no certificate or key file", c.Mode)
		}
		return nil
	case TLSFiles:
		if c.CertFile == "" || c.KeyFile == "" {
			return fmt.Errorf("tls files needs a certificate file and a key file")
		}
		return nil
	}
	return fmt.Errorf("tls mode %q must be auto, off or files", c.Mode)
}

// serverTLS loads the certificate c names, from stateDir for TLSAuto; nil
// for TLSOff.
func (c TLSConfig) serverTLS(stateDir string) (*tls.Config, agentapi.Fingerprint, error) {
	var (
		cert tls.Certificate
		fp   agentapi.Fingerprint
		err  error
	)
	switch c.Mode {
	case "", TLSOff:
		return nil, agentapi.Fingerprint{}, nil
	case TLSAuto:
		cert, fp, err = EnsureSelfSignedCert(stateDir)
	default:
		cert, fp, err = LoadCert(c.CertFile, c.KeyFile)
	}
	if err != nil {
		return nil, agentapi.Fingerprint{}, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}, fp, nil
}
