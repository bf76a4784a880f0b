package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/reconcile"
	"github.com/wgfleet/wgfleet/controller/store"
)

// TestStatuses pins the one table from fault code to HTTP status.
func TestStatuses(t *testing.T) {
	want := map[fault.Code]int{
		fault.EINVALID:         400,
		fault.EUNAUTHENTICATED: 401,
		fault.EFORBIDDEN:       403,
		fault.ENOTFOUND:        404,
		fault.EMETHOD:          405,
		fault.ECONFLICT:        409,
		fault.EGONE:            410,
		fault.ETOOLARGE:        413,
		fault.EMEDIATYPE:       415,
		fault.ERATELIMITED:     429,
		fault.ECANCELED:        499,
		fault.EINTERNAL:        500,
		fault.EAGENT:           502,
		fault.ETLSPIN:          502,
		fault.EUNAVAILABLE:     503,
		fault.ETIMEOUT:         504,
	}
	for _, c := range fault.Codes() {
		t.Run(string(c), func(t *testing.T) {
			w, ok := want[c]
			if !ok {
				t.Fatalf("code %q has no status in this test", c)
			}
			if got, ok := statuses[c]; !ok || got != w {
				t.Errorf("statuses[%q] = %d (listed: %v), want %d", c, got, ok, w)
			}
			if got := statusOf(fault.New(c, "x")).status; got != w {
				t.Errorf("statusOf(an error with code %q) = %d, want %d", c, got, w)
			}
		})
	}
	if len(statuses) != len(want) {
		t.Errorf("statuses has %d codes, want %d", len(statuses), len(want))
	}
}

func TestStatusOf(t *testing.T) {
	wrap := func(err error) error { return fmt.Errorf("doing something: %w", err) }
	pinMismatch := &agentapi.PinMismatchError{Pinned: agentapi.FingerprintOf([]byte("a")), Presented: agentapi.FingerprintOf([]byte("b"))}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		msg    string // "" means the error's own text
	}{
		{"validation", wrap(fleet.Invalid("ip_pool_cidr", "bad")), 400, "ip_pool_cidr: bad"},
		{"fleet invalid", wrap(fleet.ErrInvalid), 400, ""},
		{"store invalid", wrap(store.ErrInvalid), 400, ""},
		{"auth invalid", wrap(auth.ErrInvalid), 400, ""},
		{"bad request", badRequestf("nope"), 400, "nope"},
		{"too large", &requestError{kind: errTooLarge, msg: "big"}, 413, "big"},
		{"media type", &requestError{kind: errMediaType, msg: "json"}, 415, "json"},
		{"not found", wrap(store.ErrPeerNotFound), 404, ""},
		{"route not found", notFoundf("no route"), 404, "no route"},
		{"conflict", wrap(store.ErrConflict), 409, ""},
		{"has peers", wrap(store.ErrNodeHasPeers), 409, ""},
		{"has peers counted", &nodeHasPeersError{peers: 3, err: store.ErrNodeHasPeers}, 409, "node has 3 peers; use ?force=true to delete it with them"},
		{"has one peer", &nodeHasPeersError{peers: 1, err: store.ErrNodeHasPeers}, 409, "node has 1 peer; use ?force=true to delete it with them"},
		{"full", wrap(store.ErrNodeFull), 409, ""},
		{"exhausted", wrap(ipam.ErrPoolExhausted), 409, ""},
		{"no node", wrap(fleet.ErrNoNodeAvailable), 409, ""},
		{"node disabled", wrap(reconcile.ErrNodeDisabled), 409, ""},
		{"bad credentials", auth.ErrBadCredentials, 401, "invalid username or password"},
		{"unauthenticated", wrap(auth.ErrUnauthenticated), 401, ""},
		{"csrf", wrap(auth.ErrCSRF), 403, ""},
		{"rate limited", &auth.RateLimitError{RetryAfter: 90 * time.Second}, 429, ""},
		{"agent without the key", wrap(fault.Errorf(fault.EAGENT, "the public key of node n is not known (the agent does not tell it)")), 502, ""},
		{"unreachable", wrap(agentclient.ErrUnreachable), 502, ""},
		{"agent refused signature", wrap(&agentapi.APIError{StatusCode: 401, Message: "invalid signature"}), 502,
			"the agent refused the controller's signature (invalid signature); check the node's secret"},
		{"agent error", wrap(&agentapi.APIError{StatusCode: 500, Message: "disk full"}), 502, "the agent answered: 500 Internal Server Error: disk full"},
		{"pin mismatch", wrap(agentclient.Classify(pinMismatch)), 502, pinMismatch.Error() + "; if the agent's certificate was changed on purpose, re-pin the node (POST /api/nodes/{id}/repin)"},
		{"pin mismatch unclassified", wrap(pinMismatch), 502, pinMismatch.Error() + "; if the agent's certificate was changed on purpose, re-pin the node (POST /api/nodes/{id}/repin)"},
		{"unavailable", &requestError{kind: errUnavailable, msg: "later"}, 503, "later"},
		{"internal", errors.New("database is locked at /var/lib/x"), 500, "internal error"},
		{"timeout", wrap(context.DeadlineExceeded), 504, "timed out"},
		{"canceled", wrap(context.Canceled), 499, "request canceled"},
		{"method", &requestError{kind: errMethod, msg: "no POST"}, 405, "no POST"},
		{"field", badFieldf("name", "empty"), 400, "empty"},
		// An error carrying several codes is answered for the one first in
		// fault's precedence, as the switch this table replaced did.
		{"not found after unreachable", errors.Join(wrap(agentclient.ErrUnreachable), wrap(store.ErrNodeNotFound)), 404, ""},
		{"unreachable with deadline", fmt.Errorf("%w: %w", agentclient.ErrUnreachable, context.DeadlineExceeded), 502, ""},
		{"unreachable beside an agent error", errors.Join(wrap(agentclient.ErrUnreachable), &agentapi.APIError{StatusCode: 500, Message: "disk full"}), 502, ""},
		{"agent error with cancel", errors.Join(context.Canceled, &agentapi.APIError{StatusCode: 409, Message: "busy"}), 502, "the agent answered: 409 Conflict: busy"},
		{"validation beside conflict", errors.Join(wrap(store.ErrConflict), fleet.Invalid("name", "bad")), 400, "name: bad"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := statusOf(tc.err)
			want := tc.msg
			if want == "" {
				want = tc.err.Error()
			}
			if p.status != tc.status || p.message != want {
				t.Errorf("statusOf = %d %q, want %d %q", p.status, p.message, tc.status, want)
			}
		})
	}
	if p := statusOf(&auth.RateLimitError{RetryAfter: 90 * time.Second}); p.retryAfter != 90*time.Second {
		t.Errorf("rate limit retry after %v", p.retryAfter)
	}
	if p := statusOf(fleet.Invalid("dns", "x")); p.data["field"] != "dns" {
		t.Errorf("validation data %v", p.data)
	}
	if p := statusOf(badFieldf("name", "empty")); p.data["field"] != "name" {
		t.Errorf("request field data %v", p.data)
	}
	if p := statusOf(wrap(pinMismatch)); p.data["code"] != "tls_pin_mismatch" || p.data["pinned"] != pinMismatch.Pinned.String() || p.data["presented"] != pinMismatch.Presented.String() {
		t.Errorf("pin mismatch data %v", p.data)
	}
	if p := statusOf(&nodeHasPeersError{peers: 2, err: store.ErrNodeHasPeers}); p.data["peer_count"] != 2 {
		t.Errorf("has peers data %v", p.data)
	}
	for _, err := range []error{errors.New("x"), context.DeadlineExceeded} {
		if p := statusOf(err); !p.internal {
			t.Errorf("statusOf(%v) is not logged as internal", err)
		}
	}
	for _, err := range []error{context.Canceled, store.ErrNotFound, agentclient.ErrUnreachable} {
		if p := statusOf(err); p.internal {
			t.Errorf("statusOf(%v) is logged as internal", err)
		}
	}
	if http.StatusText(statusOf(errors.New("x")).status) == "" {
		t.Error("unknown status")
	}
}
