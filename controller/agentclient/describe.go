package agentclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/url"
	"syscall"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// Describe says in one short sentence, for a person, what went wrong
// talking to the agent at agentURL: a refused certificate, a refused
// signature, an error answer, an answer from something that is not an
// agent (described, never quoted), no answer in time, or no answer at
// all, with the reason in a few words ("Cannot reach the agent at
// 10.0.0.7:51821 (connection refused)"). It never quotes the error chain:
// that is the detail, err.Error(), which callers show apart. agentURL ""
// takes the address from the request in err, if any. Agent errors never
// carry the secret.
func Describe(agentURL string, err error) string {
	where := agentAddr(agentURL, err)
	var (
		apiErr *agentapi.APIError
		pinErr *agentapi.PinMismatchError
	)
	switch {
	case errors.As(err, &pinErr):
		return "Refused the agent at " + where + ": " + pinErr.Error() + "; if its certificate was changed on purpose, re-pin the node"
	case errors.Is(err, agentapi.ErrUnauthorized) && errors.As(err, &apiErr):
		return "The agent at " + where + " refused the request's signature (" + apiErr.Message + "): check the secret and that the clocks agree"
	case errors.Is(err, agentapi.ErrUnauthorized):
		return "The agent at " + where + " refused the request's signature: check the secret and that the clocks agree"
	case errors.As(err, &apiErr) && apiErr.Foreign:
		return "What answers at " + where + " is not a wgfleet agent: " + apiErr.Message
	case errors.As(err, &apiErr):
		return "The agent at " + where + " answered with an error: " + apiErr.Error()
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "The agent at " + where + " did not answer in time"
	}
	if why := reason(err); why != "" {
		return "Cannot reach the agent at " + where + " (" + why + ")"
	}
	return "Cannot reach the agent at " + where
}

// agentAddr is the host:port of agentURL, or of the URL of the request in
// err when agentURL is ""; "the node's address" when neither tells.
func agentAddr(agentURL string, err error) string {
	if agentURL == "" {
		var ue *url.Error
		if !errors.As(err, &ue) {
			return "the node's address"
		}
		agentURL = ue.URL
	}
	if u, perr := url.Parse(agentURL); perr == nil && u.Host != "" {
		return u.Host
	}
	return agentURL
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// reason is why a connection failed, in a few words; "" when err does not
// say in a way people would recognise.
func reason(err error) string {
	var (
		dnsErr      *net.DNSError
		unknownCA   x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidCert x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "no route to host"
	case errors.Is(err, syscall.ENETUNREACH):
		return "network unreachable"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return "unknown host " + dnsErr.Name
	case errors.As(err, &dnsErr):
		return "cannot resolve " + dnsErr.Name
	case errors.As(err, &unknownCA):
		return "its certificate is signed by an unknown authority"
	case errors.As(err, &hostErr):
		return "its certificate is not for this host name"
	case errors.As(err, &invalidCert):
		return "its certificate is not valid"
	case errors.As(err, &recordErr):
		return "it does not speak TLS"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed"
	}
	return ""
}
