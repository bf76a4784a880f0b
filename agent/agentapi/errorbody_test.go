package agentapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// TestClientDetailErrors: the error body of the seed's production agent
// (FastAPI's {"detail": ...}) is an agent's error, quoted in words; any
// other shape of "detail" is not, and is never quoted.
func TestClientDetailErrors(t *testing.T) {
	const hidden = "internal-only: db password hunter2"
	f := startFake(t)
	c := newTestClient(t, f.URL)
	many := `[` + strings.Repeat(`{"loc":["body","allowed_ips",0],"msg":"value is not a valid IPv4 or IPv6 network","type":"value_error"},`, 200) +
		`{"loc":["body"],"msg":"` + hidden + `"}]`
	tests := []struct {
		name    string
		status  int
		body    string
		msg     string // the whole Message, or its prefix when long
		long    bool   // Message is cut
		foreign bool
	}{
		{name: "string", status: 409, body: `{"detail": "Peer already exists"}`, msg: "Peer already exists"},
		{name: "list", status: 422, body: `{"detail": [` +
			`{"loc": ["body", "allowed_ips"], "msg": "field required", "type": "value_error.missing"},` +
			`{"loc": ["body", "persistent_keepalive", 0], "msg": "value is not a valid integer", "type": "type_error.integer", "input": "` + hidden + `"}]}`,
			msg: "body.allowed_ips: field required; body.persistent_keepalive.0: value is not a valid integer"},
		{name: "list without loc", status: 422, body: `{"detail": [{"msg": "Input should be a valid list"}]}`, msg: "Input should be a valid list"},
		{name: "control characters stripped", status: 422, body: `{"detail": [{"loc": ["bo\u0000dy"], "msg": "line one\nline two\u001b[31m\u009b\u007f"}]}`,
			msg: "body: line oneline two[31m"},
		{name: "huge string", status: 500, body: `{"detail": "` + strings.Repeat("x", 5000) + `"}`, msg: strings.Repeat("x", 1024), long: true},
		{name: "huge list", status: 422, body: `{"detail": ` + many + `}`,
			msg: "body.allowed_ips.0: value is not a valid IPv4 or IPv6 network; body.allowed_ips.0: value", long: true},
		{name: "error wins", status: 400, body: `{"error": "bad allowed_ips", "detail": "` + hidden + `"}`, msg: "bad allowed_ips"},

		{name: "empty list", status: 422, body: `{"detail": []}`, foreign: true},
		{name: "list without msg", status: 422, body: `{"detail": [{"loc": ["body"], "type": "` + hidden + `"}]}`, foreign: true},
		{name: "one issue without msg", status: 422, body: `{"detail": [{"msg": "ok"}, {"loc": ["` + hidden + `"]}]}`, foreign: true},
		{name: "msg not a string", status: 422, body: `{"detail": [{"msg": {"text": "` + hidden + `"}}]}`, foreign: true},
		{name: "empty msg", status: 422, body: `{"detail": [{"loc": ["` + hidden + `"], "msg": ""}]}`, foreign: true},
		{name: "loc not strings", status: 422, body: `{"detail": [{"loc": [{"x": 1}], "msg": "` + hidden + `"}]}`, foreign: true},
		{name: "list of strings", status: 422, body: `{"detail": ["` + hidden + `"]}`, foreign: true},
		{name: "empty string", status: 403, body: `{"detail": ""}`, foreign: true},
		{name: "only control characters", status: 403, body: `{"detail": "\u0000\n\t"}`, foreign: true},
		{name: "object", status: 403, body: `{"detail": {"message": "` + hidden + `"}}`, foreign: true},
		{name: "null", status: 403, body: `{"detail": null, "message": "` + hidden + `"}`, foreign: true},
		{name: "not an object", status: 403, body: `["detail", "` + hidden + `"]`, foreign: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.Inject(agenttest.OpDump, agenttest.Fault{Status: tt.status, Raw: true, Body: tt.body, Times: 1,
				Header: http.Header{"Content-Type": {"application/json"}}})
			_, err := c.Dump(context.Background(), "wg0")
			var ae *agentapi.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not an *APIError", err, err)
			}
			if ae.StatusCode != tt.status || ae.Foreign != tt.foreign {
				t.Fatalf("status %d, Foreign %v; want %d, %v (%q)", ae.StatusCode, ae.Foreign, tt.status, tt.foreign, ae.Message)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error quotes what it must not: %q", err)
			}
			if tt.foreign {
				if want := "an HTTP server that is not a wgfleet agent answered"; !strings.HasPrefix(ae.Message, want) {
					t.Errorf("Message %q, want it to begin %q", ae.Message, want)
				}
				return
			}
			switch {
			case !tt.long && ae.Message != tt.msg:
				t.Errorf("Message %q, want %q", ae.Message, tt.msg)
			case tt.long && (!strings.HasPrefix(ae.Message, tt.msg) || !strings.HasSuffix(ae.Message, "…") || len(ae.Message) > 1024+len("…")):
				t.Errorf("Message of %d bytes %q…, want it cut to 1 KiB, beginning %q", len(ae.Message), ae.Message[:min(len(ae.Message), 100)], tt.msg)
			}
		})
	}
}

// TestClientProductionAgentErrors: against the production agent's
// emulation, a 404 {"detail": "Not Found"} of a path it does not serve
// still moves the client to /v1, and its errors on /v1 (an unknown peer,
// a body that does not validate) come back in words.
func TestClientProductionAgentErrors(t *testing.T) {
	f := agenttest.StartFake(t, agenttest.FakeOptions{Secret: clientSecret, Dialect: agenttest.ProductionAgent(), Capabilities: []string{}})
	c := newTestClient(t, f.URL)
	ctx := context.Background()
	if _, err := c.Dump(ctx, "wg0"); err != nil {
		t.Fatalf("dump: %v", err)
	}
	if got := c.Paths(); got != agentapi.PathsV1 {
		t.Fatalf("paths %q after a dump, want v1", got)
	}

	err := c.DeletePeer(ctx, "wg0", otherKey)
	var ae *agentapi.APIError
	if !errors.As(err, &ae) || !errors.Is(err, agentapi.ErrNotFound) || ae.Foreign || !strings.Contains(ae.Message, otherKey.String()) {
		t.Fatalf("unknown peer: %v; want a 404 naming the peer, not foreign", err)
	}
	if got := c.Paths(); got != agentapi.PathsV1 {
		t.Fatalf("paths %q after an unknown peer, want v1", got)
	}

	_, err = c.AddPeer(ctx, "wg0", agentapi.AddPeerRequest{PublicKey: "abc=", AllowedIPs: []string{}})
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusUnprocessableEntity || ae.Foreign ||
		!strings.HasPrefix(ae.Message, `body: public_key "abc=" is not a valid key`) {
		t.Fatalf("bad key: %v; want 422 with the agent's words", err)
	}
}

// FuzzAPIErrorBody: whatever an error body holds, the message is bounded,
// valid UTF-8 and free of control characters when quoted, and a body that
// is not quoted says so.
func FuzzAPIErrorBody(f *testing.F) {
	for _, s := range []string{`{"detail": "Not Found"}`, `{"detail": [{"loc": ["body", 0], "msg": "x"}]}`,
		`{"detail": []}`, `{"detail": [{"loc": [true], "msg": "x"}]}`, `{"error": "e"}`, `<html>`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write(body)
		}))
		defer srv.Close()
		_, err := newTestClient(t, srv.URL).Health(context.Background())
		var ae *agentapi.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("error %v (%T) is not an *APIError", err, err)
		}
		if len(ae.Message) > 1024+len("…") || !utf8.ValidString(ae.Message) {
			t.Fatalf("message of %d bytes, valid UTF-8 %v", len(ae.Message), utf8.ValidString(ae.Message))
		}
		if ae.Foreign != strings.HasPrefix(ae.Message, "an HTTP server that is not a wgfleet agent") {
			t.Fatalf("Foreign %v with message %q", ae.Foreign, ae.Message)
		}
		var ours agentapi.ErrorResponse
		if json.Unmarshal(body, &ours) == nil && ours.Error != "" {
			return // our agent's own error is quoted as before
		}
		if !ae.Foreign && strings.ContainsFunc(ae.Message, unicode.IsControl) {
			t.Fatalf("detail message %q holds control characters", ae.Message)
		}
	})
}
