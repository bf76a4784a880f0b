package client

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"syscall"
)

// APIError is the controller's error answer: its HTTP status and the
// envelope's message, a sentence for a person.
type APIError struct {
	Status  int
	Message string
	// Field names the request's field at fault, when the controller said
	// which ("" otherwise).
	Field string
}

func (e *APIError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("the controller answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return e.Message
}

// UnreachableError is a call no controller answered: the connection
// failed or timed out, or what answered was not a wgfleet controller (a
// proxy's error page, another server).
type UnreachableError struct {
	URL    string // the controller's URL, never with a credential
	Reason string // short: "connection refused", "timed out", "answered 502 with text/html"
	Err    error  // the underlying error; nil when something else answered
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("cannot reach the controller at %s: %s", e.URL, e.Reason)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// unreachable wraps the transport error err of a call to base.
func unreachable(base string, err error) *UnreachableError {
	return &UnreachableError{URL: base, Reason: transportReason(err), Err: err}
}

// transportReason says in a few words why a request got no answer,
// without the URL and the layers package net adds around it.
func transportReason(err error) string {
	var (
		dnsErr *net.DNSError
		ne     net.Error
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &dnsErr):
		return "no such host " + dnsErr.Name
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timed out"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
