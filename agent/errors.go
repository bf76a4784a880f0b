package agent

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
)

// Kinds of failure. Lower layers wrap one of these; statusOf alone decides
// the HTTP status.
var (
	errBadRequest = errors.New("bad request")
	errNotFound   = errors.New("not found")
	errConflict   = errors.New("conflict")
	errTooLarge   = errors.New("request body too large")
	errBusy       = errors.New("busy")
	errMethod     = errors.New("method not allowed")
)

// kindError is an error of a given kind whose text is meant for the client.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func badRequestf(format string, a ...any) error {
	return &kindError{errBadRequest, fmt.Sprintf(format, a...)}
}

func notFoundf(format string, a ...any) error {
	return &kindError{errNotFound, fmt.Sprintf(format, a...)}
}

func conflictf(format string, a ...any) error {
	return &kindError{errConflict, fmt.Sprintf(format, a...)}
}

// statusOf maps an error to its HTTP status and the message the client may
// see. Faults of the agent itself are 500 with a generic message; their
// detail goes to the log only.
func statusOf(err error) (int, string) {
	var auth *agentapi.AuthError
	switch {
	case errors.As(err, &auth) && (auth.Reason == agentapi.ReasonReplayCacheFull || auth.Reason == agentapi.ReasonReplayLogFailed):
		return http.StatusServiceUnavailable, auth.Reason
	case errors.As(err, &auth):
		return http.StatusUnauthorized, auth.Reason
	case errors.Is(err, errBadRequest), errors.Is(err, agentapi.ErrBadRequest), errors.Is(err, agentapi.ErrBadKey),
		errors.Is(err, tunnel.ErrInvalidConfig): // a change the device refuses is the change's fault
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, errNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, errConflict):
		return http.StatusConflict, err.Error()
	case errors.Is(err, errShuttingDown), errors.Is(err, errBusy):
		return http.StatusServiceUnavailable, err.Error()
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge, err.Error()
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, err.Error()
	default:
		return http.StatusInternalServerError, "internal error"
	}
}
