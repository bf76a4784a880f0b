package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Kinds of failure found by this package itself, each with its fault
// code. Everything else comes from fleet, auth, store, ipam, reconcile and
// agentclient with codes of its own; statusOf alone decides what each
// becomes.
var (
	errBadRequest  = fault.New(fault.EINVALID, "bad request")
	errNotFound    = fault.New(fault.ENOTFOUND, "not found")
	errMethod      = fault.New(fault.EMETHOD, "method not allowed")
	errTooLarge    = fault.New(fault.ETOOLARGE, "request body too large")
	errMediaType   = fault.New(fault.EMEDIATYPE, "unsupported media type")
	errUnavailable = fault.New(fault.EUNAVAILABLE, "unavailable")
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
	detail     string         // what lies behind message, for debugging; "" for none
	data       map[string]any // null when nil
	retryAfter time.Duration  // Retry-After header when > 0
	internal   bool           // a fault of ours: log the detail
}

// statuses is the HTTP status of each fault code: the only place that
// turns errors into statuses. It is never written.
var statuses = map[fault.Code]int{
	fault.EINVALID:         http.StatusBadRequest,
	fault.EUNAUTHENTICATED: http.StatusUnauthorized,
	fault.EFORBIDDEN:       http.StatusForbidden,
	fault.ENOTFOUND:        http.StatusNotFound,
	fault.EGONE:            http.StatusGone,
	fault.EMETHOD:          http.StatusMethodNotAllowed,
	fault.ECONFLICT:        http.StatusConflict,
	fault.ETOOLARGE:        http.StatusRequestEntityTooLarge,
	fault.EMEDIATYPE:       http.StatusUnsupportedMediaType,
	fault.ERATELIMITED:     http.StatusTooManyRequests,
	fault.ECANCELED:        499, // the client went away; nobody reads this answer
	fault.EINTERNAL:        http.StatusInternalServerError,
	fault.EAGENT:           http.StatusBadGateway,
	fault.ETLSPIN:          http.StatusBadGateway,
	fault.EUNAVAILABLE:     http.StatusServiceUnavailable,
	fault.ETIMEOUT:         http.StatusGatewayTimeout,
}

// statusOf maps an error to its answer: the status of its code (statuses),
// the message fault.ErrorMessage gives (4xx messages are the error's text,
// which lower layers write for people and keep free of secrets; a 5xx of
// ours says nothing beyond "internal error" or "timed out", its detail goes
// to the log only), and what some errors add to that.
func statusOf(err error) problem {
	code := codeOf(err)
	status, ok := statuses[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := problem{
		status:   status,
		message:  fault.ErrorMessage(err),
		internal: code == fault.EINTERNAL || code == fault.ETIMEOUT,
	}
	var (
		ve  *fleet.ValidationError
		re  *requestError
		nhp *nodeHasPeersError
		rl  *auth.RateLimitError
		ae  *agentapi.APIError
		pe  *agentapi.PinMismatchError
		ue  *url.Error
		ce  *fleet.ConflictError
	)
	switch {
	case code == fault.EINVALID && errors.As(err, &ve):
		p.message, p.data = ve.Error(), map[string]any{"field": ve.Field}
	case errors.As(err, &re) && code == fault.ErrorCode(re.kind):
		p.message = re.msg
		if re.field != "" {
			p.data = map[string]any{"field": re.field}
		}
	case code == fault.ERATELIMITED && errors.As(err, &rl):
		p.message, p.retryAfter = rl.Error(), rl.RetryAfter
	case code == fault.EUNAUTHENTICATED && (errors.Is(err, auth.ErrTOTPRequired) || errors.Is(err, auth.ErrBadTOTP)):
		// The password was right: the client asks for the second factor.
		p.data = map[string]any{"totp_required": true}
	case code == fault.EUNAUTHENTICATED && errors.Is(err, auth.ErrBadCredentials):
		// Nothing more: what wraps it could tell a wrong password from an
		// unknown user.
		p.message = auth.ErrBadCredentials.Error()
	case code == fault.ECONFLICT && errors.As(err, &ce):
		p.message, p.data = ce.Error(), map[string]any{"field": ce.Field}
	case code == fault.ECONFLICT && errors.Is(err, store.ErrPeerNameTaken):
		// Two writers raced past the fleet's check: the unique index said no.
		p.message, p.data = "name: a peer of that name is already on the node; choose another name", map[string]any{"field": "name"}
	case code == fault.ECONFLICT && errors.As(err, &nhp):
		p.message, p.data = nhp.Error(), map[string]any{"peer_count": nhp.peers}
	case code == fault.ETLSPIN && errors.As(err, &pe):
		p.message = pe.Error() + "; if the agent's certificate was changed on purpose, re-pin the node (POST /api/nodes/{id}/repin)"
		p.data = map[string]any{"code": string(fault.ETLSPIN), "pinned": pe.Pinned.String(), "presented": pe.Presented.String()}
	case code == fault.EAGENT && !fault.Has(err, fault.EAGENT) && errors.As(err, &ae):
		// The agent's own answer, not an error of ours about the agent.
		p.message = agentMessage(ae)
	case code == fault.EAGENT && errors.Is(err, agentclient.ErrUnreachable) && errors.As(err, &ue):
		// An error that quotes the failed request's own: one sentence
		// with the address and the reason, and what to do; the chain is
		// the detail.
		p.message = agentclient.Describe("", err) + "; check that the agent runs and answers (test the node), then try again"
	}
	if code == fault.EAGENT || code == fault.ETLSPIN {
		// An agent's failure: the message says what it means, the
		// detail how it came about. (Agent errors never carry a secret.)
		if full := err.Error(); full != p.message {
			p.detail = full
		}
	}
	return p
}

// codeOf is the fault code of err. An agent's error answer
// (*agentapi.APIError, of the wire contract, which knows no fault codes)
// counts as fault.EAGENT, a refused pinned certificate
// (*agentapi.PinMismatchError) as fault.ETLSPIN.
func codeOf(err error) fault.Code {
	code := fault.ErrorCode(err)
	var (
		ae *agentapi.APIError
		pe *agentapi.PinMismatchError
	)
	if errors.As(err, &ae) {
		code = fault.First(code, fault.EAGENT)
	}
	if errors.As(err, &pe) {
		code = fault.First(code, fault.ETLSPIN)
	}
	return code
}

// agentMessage says what an agent's error answer means for the client.
func agentMessage(ae *agentapi.APIError) string {
	if ae.StatusCode == http.StatusUnauthorized {
		return "the agent refused the controller's signature (" + ae.Message + "); check the node's secret"
	}
	return "the agent answered: " + ae.Error()
}

// fail answers r with err.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	p := statusOf(err)
	if p.internal {
		s.log.Error("request failed", "method", r.Method, "path", logPath(r.URL.Path), "status", p.status, "err", err)
	} else if p.status >= 500 {
		s.log.Warn("request failed", "method", r.Method, "path", logPath(r.URL.Path), "status", p.status, "err", err)
	}
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(p.retryAfter.Seconds()))))
	}
	var data any
	if p.data != nil {
		data = p.data
	}
	s.writeEnvelope(w, p.status, envelope{Status: false, Message: optional(p.message), Detail: p.detail, Data: data})
}
