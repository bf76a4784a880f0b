package agentapi

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// PinMismatchError is the refusal of an agent's TLS certificate whose
// fingerprint is not the pinned one. Nothing was sent to that server.
type PinMismatchError struct {
	Pinned    Fingerprint
	Presented Fingerprint // zero when the server presented no certificate
}

func (e *PinMismatchError) Error() string {
	return fmt.Sprintf("TLS certificate mismatch: the node pins %s…, the agent presented %s…", e.Pinned.Short(), e.Presented.Short())
}

// PinnedTLSConfig is the client TLS configuration that accepts exactly the
// certificate whose fingerprint is pin, and refuses any other with a
// *PinMismatchError before a byte of the request is sent. The chain, the
// name and the dates are not checked: the pin is the trust (the agent's
// certificate is self-signed); this is the standard way of pinning with
// crypto/tls. pin must not be zero.
func PinnedTLSConfig(pin Fingerprint) (*tls.Config, error) {
	if pin.IsZero() {
		return nil, errors.New("pinned TLS: no fingerprint to pin")
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The chain and name checks are replaced, not skipped:
		// VerifyConnection below runs on every handshake, resumed ones
		// included, and accepts only the pinned certificate.
		InsecureSkipVerify: true, //nolint:gosec // pinned by VerifyConnection
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return &PinMismatchError{Pinned: pin}
			}
			if got := FingerprintOf(cs.PeerCertificates[0].Raw); got != pin {
				return &PinMismatchError{Pinned: pin, Presented: got}
			}
			return nil
		},
	}, nil
}
