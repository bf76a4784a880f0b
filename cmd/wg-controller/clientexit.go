package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/wgfleet/wgfleet/controller/client"
)

// The exit codes of the commands that call a running controller (node,
// peer), for scripts: docs/CLI.md lists them. Every other command exits 0
// or 1 (and 0 for -h).
const (
	exitError       = 1 // anything else: an agent's failure, a controller's fault, a failed connection test
	exitUsage       = 2 // a bad command line, or a value the controller refused as invalid (400)
	exitNotFound    = 3 // no such node or peer (404)
	exitConflict    = 4 // refused as in conflict with the fleet (409, 410): a name taken, a node with peers...
	exitAuth        = 5 // no, a wrong or an expired token (401), or not allowed (403)
	exitUnreachable = 6 // no controller answered at --server
)

// codedError is an error that exits with its code (cli.ExitCoder).
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }
func (e *codedError) ExitCode() int { return e.code }

// usageErrorf is a bad command line: exit code 2.
func usageErrorf(format string, a ...any) error {
	return &codedError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// withExitCode gives err the exit code its kind calls for. It is the one
// place an answer of the controller (its HTTP status) becomes an exit
// code.
func withExitCode(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := errors.AsType[*codedError](err); ok {
		return err
	}
	if _, ok := errors.AsType[*client.UnreachableError](err); ok {
		return &codedError{code: exitUnreachable, err: err}
	}
	ae, ok := errors.AsType[*client.APIError](err)
	if !ok {
		return err
	}
	code := exitError
	switch ae.Status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		code = exitUsage
	case http.StatusNotFound:
		code = exitNotFound
	case http.StatusConflict, http.StatusGone:
		code = exitConflict
	case http.StatusUnauthorized, http.StatusForbidden:
		code = exitAuth
	}
	return &codedError{code: code, err: err}
}
