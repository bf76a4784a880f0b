package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Kinds of failure found by this package itself. Everything else comes
// from fleet, auth, store, ipam and reconcile; statusOf alone decides what
// each becomes.
var (
	errBadRequest  = errors.New("bad request")
	errNotFound    = errors.New("not found")
	errMethod      = errors.New("method not allowed")
	errTooLarge    = errors.New("request body too large")
	errMediaType   = errors.New("unsupported media type")
	errUnavailable = errors.New("unavailable")
)

// requestError is an error of this package whose text is meant for the
// client. Field, when set, names the JSON field at fault.
type requestError struct {
	kind  error
	msg   string
	field string
}

func (e *requestError) Error() string { return e.msg }
func (e *requestError) Unwrap() error { return e.kind }

func badRequestf(format string, a ...any) error {
	return &requestError{kind: errBadRequest, msg: fmt.Sprintf(format, a...)}
}

func badFieldf(field, format string, a ...any) error {
	return &requestError{kind: errBadRequest, msg: fmt.Sprintf(format, a...), field: field}
}

func notFoundf(format string, a ...any) error {
	return &requestError{kind: errNotFound, msg: fmt.Sprintf(format, a...)}
}

// nodeHasPeersError is a refused delete of a node that has peers.
type nodeHasPeersError struct {
	peers int
	err   error
}

func (e *nodeHasPeersError) Error() string {
	noun := "peers"
	if e.peers == 1 {
		noun = "peer"
	}
	return fmt.Sprintf("node has %d %s; use ?force=true to delete it with them", e.peers, noun)
}
func (e *nodeHasPeersError) Unwrap() error { return e.err }

// problem is how an error is answered.
type problem struct {
	status     int
	message    string         // for the client
	data       map[string]any // null when nil
	retryAfter time.Duration  // Retry-After header when > 0
	internal   bool           // a fault of ours: log the detail
}

// statusOf maps an error to its answer. It is the only place that turns
// errors into HTTP statuses. 4xx messages are the error's text, which
// lower layers write for people and keep free of secrets; a 5xx says
// nothing beyond "internal error", its detail goes to the log only.
func statusOf(err error) problem {
	var (
		ve  *fleet.ValidationError
		re  *requestError
		nhp *nodeHasPeersError
		rl  *auth.RateLimitError
		ae  *agentapi.APIError
	)
	switch {
	// Input.
	case errors.As(err, &ve):
		return problem{status: http.StatusBadRequest, message: ve.Error(), data: map[string]any{"field": ve.Field}}
	case errors.As(err, &re) && re.field != "":
		return problem{status: statusOfKind(re.kind), message: re.msg, data: map[string]any{"field": re.field}}
	case errors.As(err, &re):
		return problem{status: statusOfKind(re.kind), message: re.msg}
	case errors.Is(err, fleet.ErrInvalid), errors.Is(err, store.ErrInvalid), errors.Is(err, auth.ErrInvalid):
		return problem{status: http.StatusBadRequest, message: err.Error()}

	// Authentication.
	case errors.As(err, &rl):
		return problem{status: http.StatusTooManyRequests, message: rl.Error(), retryAfter: rl.RetryAfter}
	case errors.Is(err, auth.ErrBadCredentials):
		return problem{status: http.StatusUnauthorized, message: auth.ErrBadCredentials.Error()}
	case errors.Is(err, auth.ErrUnauthenticated):
		return problem{status: http.StatusUnauthorized, message: err.Error()}
	case errors.Is(err, auth.ErrCSRF):
		return problem{status: http.StatusForbidden, message: err.Error()}

	// State.
	case errors.Is(err, store.ErrNotFound):
		return problem{status: http.StatusNotFound, message: err.Error()}
	case errors.As(err, &nhp):
		return problem{status: http.StatusConflict, message: nhp.Error(), data: map[string]any{"peer_count": nhp.peers}}
	case errors.Is(err, store.ErrNodeHasPeers), errors.Is(err, store.ErrConflict),
		errors.Is(err, store.ErrNodeFull), errors.Is(err, ipam.ErrPoolExhausted),
		errors.Is(err, fleet.ErrNoNodeAvailable), errors.Is(err, reconcile.ErrNodeDisabled):
		return problem{status: http.StatusConflict, message: err.Error()}

	// The agent behind a node.
	case errors.Is(err, fleet.ErrAgentUnavailable):
		return problem{status: http.StatusServiceUnavailable, message: err.Error()}
	case errors.Is(err, agentclient.ErrUnreachable):
		return problem{status: http.StatusBadGateway, message: err.Error()}
	case errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized:
		return problem{status: http.StatusBadGateway, message: "the agent refused the controller's signature (" + ae.Message + "); check the node's secret"}
	case errors.As(err, &ae):
		return problem{status: http.StatusBadGateway, message: "the agent answered: " + ae.Error()}

	case errors.Is(err, errUnavailable):
		return problem{status: http.StatusServiceUnavailable, message: err.Error()}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer.
		return problem{status: 499, message: "request canceled"}
	case errors.Is(err, context.DeadlineExceeded):
		return problem{status: http.StatusGatewayTimeout, message: "timed out", internal: true}
	default:
		return problem{status: http.StatusInternalServerError, message: "internal error", internal: true}
	}
}

// statusOfKind is the status of this package's own error kinds.
func statusOfKind(kind error) int {
	switch kind {
	case errBadRequest:
		return http.StatusBadRequest
	case errNotFound:
		return http.StatusNotFound
	case errMethod:
		return http.StatusMethodNotAllowed
	case errTooLarge:
		return http.StatusRequestEntityTooLarge
	case errMediaType:
		return http.StatusUnsupportedMediaType
	case errUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// fail answers r with err.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := statusOf(err)
	if p.internal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "status", p.status, "err", err)
	} else if p.status >= 500 {
		s.log.Warn("request failed", "method", r.Method, "path", r.URL.Path, "status", p.status, "err", err)
	}
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(p.retryAfter.Seconds()))))
	}
	var data any
	if p.data != nil {
		data = p.data
	}
	s.writeEnvelope(w, p.status, envelope{Status: false, Message: optional(p.message), Data: data})
}
