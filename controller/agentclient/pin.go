package agentclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/fault"
)

// ErrTLSPinMismatch marks a call refused because the agent presented a
// certificate other than the node's pinned one (an
// *agentapi.PinMismatchError, which Classify wraps with it). Nothing was
// sent to that server. Its fault code is ETLSPIN.
var ErrTLSPinMismatch = fault.New(fault.ETLSPIN, "agent TLS certificate does not match the pin")

// pinnedTransport is a clone of the Pool's transport that accepts only the
// certificate pin, for the https agentURL.
func (p *Pool) pinnedTransport(agentURL string, pin agentapi.Fingerprint) (*http.Transport, error) {
	u, err := url.Parse(agentURL)
	if err != nil || u.Scheme != "https" {
		return nil, fmt.Errorf("a pinned TLS fingerprint needs an https agent URL, not %q", agentURL)
	}
	base, ok := p.hc.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("cannot pin a TLS certificate with an HTTP transport of type %T", p.hc.Transport)
	}
	tc, err := agentapi.PinnedTLSConfig(pin)
	if err != nil {
		return nil, err
	}
	t := base.Clone()
	t.TLSClientConfig = tc
	return t, nil
}

// PresentedFingerprint connects to the https agent at agentURL, as the
// Pool's transport dials, and returns the fingerprint of the certificate
// it presents, without checking it and without sending a request: what
// re-pinning a node learns. ctx bounds the dial and the handshake.
func (p *Pool) PresentedFingerprint(ctx context.Context, agentURL string) (agentapi.Fingerprint, error) {
	u, err := url.Parse(agentURL)
	if err != nil || u.Scheme != "https" || u.Hostname() == "" {
		return agentapi.Fingerprint{}, fmt.Errorf("reading the agent's certificate: %q is not an https URL", agentURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.hc.Timeout)
		defer cancel()
	}
	dial := (&net.Dialer{}).DialContext
	if base, ok := p.hc.Transport.(*http.Transport); ok && base.DialContext != nil {
		dial = base.DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return agentapi.Fingerprint{}, fmt.Errorf("reading the agent's certificate: %w", err)
	}
	defer raw.Close()
	conn := tls.Client(raw, &tls.Config{
		ServerName:         u.Hostname(),
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, //nolint:gosec // the certificate is read, not trusted: the caller pins what it is shown
	})
	if err := conn.HandshakeContext(ctx); err != nil {
		return agentapi.Fingerprint{}, fmt.Errorf("reading the agent's certificate: TLS handshake with %s: %w", addr, err)
	}
	defer conn.Close()
	certs := conn.ConnectionState().PeerCertificates
	if len(certs) == 0 {
		return agentapi.Fingerprint{}, errors.New("reading the agent's certificate: the agent presented none")
	}
	return agentapi.FingerprintOf(certs[0].Raw), nil
}
