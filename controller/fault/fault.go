package fault

import (
	"context"
	"fmt"
)

// Code is a kind of failure.
type Code string

// The codes. Each says what the caller can do about the failure; the
// comment names the HTTP status controller/api answers it with.
const (
	// EINVALID: the input may not be used; its text says why (400).
	EINVALID Code = "invalid"
	// EUNAUTHENTICATED: no usable credentials (401).
	EUNAUTHENTICATED Code = "unauthenticated"
	// EFORBIDDEN: credentials that may not do this (403).
	EFORBIDDEN Code = "forbidden"
	// ENOTFOUND: no such thing (404).
	ENOTFOUND Code = "not_found"
	// EGONE: the thing existed and is gone for good, such as a used
	// one-time share link (410).
	EGONE Code = "gone"
	// EMETHOD: a method the resource does not take (405).
	EMETHOD Code = "method_not_allowed"
	// ECONFLICT: refused by the state things are in, such as a name taken,
	// a node with peers or a pool without room (409).
	ECONFLICT Code = "conflict"
	// ETOOLARGE: a request body over the limit (413).
	ETOOLARGE Code = "too_large"
	// EMEDIATYPE: a request body of a type not taken (415).
	EMEDIATYPE Code = "unsupported_media_type"
	// ERATELIMITED: too many attempts; try again later (429).
	ERATELIMITED Code = "rate_limited"
	// ECANCELED: the caller gave up (499, nobody reads it).
	ECANCELED Code = "canceled"
	// EINTERNAL: a fault of the controller's; the detail is for the log
	// only (500).
	EINTERNAL Code = "internal"
	// EAGENT: the agent behind a node gave no usable answer: it could not
	// be reached, refused the controller's signature, or answered with an
	// error (502).
	EAGENT Code = "agent"
	// ETLSPIN: the agent behind a node presented a TLS certificate other
	// than the one the node pins; nothing was sent to it. Re-pin the node
	// if the certificate was changed on purpose (502).
	ETLSPIN Code = "tls_pin_mismatch"
	// EUNAVAILABLE: the controller cannot do this now, such as while its
	// reconciler is not running (503).
	EUNAVAILABLE Code = "unavailable"
	// ETIMEOUT: the work did not finish in time (504).
	ETIMEOUT Code = "timeout"
)

// Error is an error with a code. Message is the error's whole text; it is
// meant for a person and never holds a secret.
type Error struct {
	Code    Code
	Message string
	err     error // Errorf's formatted error, through which %w operands are reached; or nil
}

func (e *Error) Error() string { return e.Message }

// Unwrap returns what leads to the errors Errorf's %w verbs wrapped, or
// nil.
func (e *Error) Unwrap() error { return e.err }

// New returns an error with code and text message; for sentinels, which
// other errors wrap to carry the code.
func New(code Code, message string) error {
	return &Error{Code: code, Message: message}
}

// Errorf returns an error with code whose text is formatted as by
// fmt.Errorf; an error given to a %w verb is wrapped (errors.Is and
// errors.As see it), but the code is code.
func Errorf(code Code, format string, a ...any) error {
	err := fmt.Errorf(format, a...)
	return &Error{Code: code, Message: err.Error(), err: err}
}

// precedence orders the codes for an error that carries several (joined
// errors, several %w verbs): the first in this list wins. What the caller
// can act on comes first: the input, the credentials, the state of things;
// then the agent and the controller's availability; then what ended the
// work (cancel, deadline); a fault of the controller's last.
var precedence = [...]Code{
	EINVALID, EMETHOD, ETOOLARGE, EMEDIATYPE,
	ERATELIMITED, EUNAUTHENTICATED, EFORBIDDEN,
	ENOTFOUND, EGONE, ECONFLICT,
	EUNAVAILABLE, ETLSPIN, EAGENT,
	ECANCELED, ETIMEOUT,
	EINTERNAL,
}

// Codes returns every code, in precedence order.
func Codes() []Code { return append([]Code(nil), precedence[:]...) }

// rank is c's place in precedence; codes not listed come after all.
func rank(c Code) int {
	for i, p := range precedence {
		if p == c {
			return i
		}
	}
	return len(precedence)
}

// First returns the code among codes that takes precedence over the
// others (see ErrorCode), or "" when codes is empty.
func First(codes ...Code) Code {
	var first Code
	for _, c := range codes {
		if c != "" && (first == "" || rank(c) < rank(first)) {
			first = c
		}
	}
	return first
}

// ErrorCode returns the code of err: the code of each *Error in its tree,
// ECANCELED for context.Canceled and ETIMEOUT for
// context.DeadlineExceeded found in it, and when it has several, the one
// that comes first in precedence (EINVALID before ENOTFOUND before
// ECONFLICT before EAGENT...). An error with none is EINTERNAL; a nil err
// has no code ("").
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var code Code
	walk(err, func(e error) {
		code = First(code, codeOf(e))
	})
	if code == "" {
		return EINTERNAL
	}
	return code
}

// Has reports whether a *Error with code c is in err's tree.
func Has(err error, c Code) bool {
	found := false
	walk(err, func(e error) {
		if fe, ok := e.(*Error); ok && fe.Code == c {
			found = true
		}
	})
	return found
}

// codeOf is the code err itself carries, not looking into what it wraps.
func codeOf(err error) Code {
	if e, ok := err.(*Error); ok {
		return e.Code
	}
	switch err {
	case context.Canceled:
		return ECANCELED
	case context.DeadlineExceeded:
		return ETIMEOUT
	}
	return ""
}

// walk calls f for err and every error in its tree, as errors.Is visits
// them.
func walk(err error, f func(error)) {
	if err == nil {
		return
	}
	f(err)
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		walk(u.Unwrap(), f)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			walk(e, f)
		}
	}
}

// ErrorMessage returns what a person is told of err: its text, which
// lower layers write for people, unless its code is EINTERNAL, ETIMEOUT
// or ECANCELED, whose detail is for the log only. A nil err has no
// message ("").
func ErrorMessage(err error) string {
	switch ErrorCode(err) {
	case "":
		return ""
	case EINTERNAL:
		return "internal error"
	case ETIMEOUT:
		return "timed out"
	case ECANCELED:
		return "request canceled"
	}
	return err.Error()
}
