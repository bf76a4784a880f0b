package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

type newJoinToken struct {
	fleet.EnrollmentTokenView
	Token       string `json:"token"`
	JoinCommand string `json:"join_command"`
}

// makeJoinToken creates a join token through the API.
func makeJoinToken(t *testing.T, c *client, body map[string]any) newJoinToken {
	t.Helper()
	var tok newJoinToken
	if body == nil {
		body = map[string]any{}
	}
	c.do(t, "POST", "/api/enrollment-tokens", body).want(t, 201).decode(t, &tok)
	return tok
}

// enrollBody is what an agent named name sends to join with token.
func enrollBody(t *testing.T, token, name string) agentapi.EnrollRequest {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return agentapi.EnrollRequest{
		Token: token, Name: name, AgentURL: "http://" + name + ".example.net:8080", Endpoint: name + ".example.net:51820",
		WGInterface: "wg0", PublicKey: k.PublicKey().String(), Secret: agenttest.RandomSecret(),
	}
}

func (e *env) nodeCount(t *testing.T) int {
	t.Helper()
	nodes, err := e.st.ListNodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(nodes)
}

func TestEnrollmentTokenLifecycle(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	tok := makeJoinToken(t, c, map[string]any{"name": "edge-7", "labels": map[string]string{"region": "eu-west"}})
	parsed, err := agentapi.ParseJoinToken(tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "state", tok.State, "active")
	testenv.Equal(t, "name", tok.Name, "edge-7")
	testenv.Equal(t, "labels", tok.Labels["region"], "eu-west")
	testenv.Equal(t, "prefix", tok.Prefix, parsed.Display())
	testenv.Equal(t, "join command", tok.JoinCommand, "wg-agent --join "+e.srv.URL+" --join-token "+tok.Token)
	if left := time.Until(tok.ExpiresAt); left < 59*time.Minute || left > time.Hour {
		t.Errorf("expires in %v, want the default 1h", left)
	}

	// Listed, never with the token; an API token may list and create too.
	api := e.tokenClient(t, "Authorization")
	r := api.do(t, "GET", "/api/enrollment-tokens", nil).want(t, 200)
	if strings.Contains(string(r.body), parsed.Secret) {
		t.Fatalf("the list shows the token's secret: %s", r.body)
	}
	var list []fleet.EnrollmentTokenView
	r.decode(t, &list)
	if len(list) != 1 || list[0].ID != tok.ID || list[0].State != "active" {
		t.Fatalf("list = %+v, want token %d active", list, tok.ID)
	}
	makeJoinToken(t, api, map[string]any{"expires_in": "10m", "ip_pool_cidr": "10.50.0.0/24"})

	// Revoked: listed as such, refused at enrollment.
	c.do(t, "DELETE", fmt.Sprintf("/api/enrollment-tokens/%d", tok.ID), nil).want(t, 200)
	api.do(t, "GET", "/api/enrollment-tokens", nil).want(t, 200).decode(t, &list)
	testenv.Equal(t, "state after revoke", list[0].State, "revoked")
	c.do(t, "DELETE", "/api/enrollment-tokens/999", nil).want(t, 404)

	// Bad input names its field.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"expires_in": "1s"}, "expires_in"},
		{map[string]any{"expires_in": "soon"}, "expires_in"},
		{map[string]any{"ip_pool_cidr": "10.0.0.5/24"}, "ip_pool_cidr"},
		{map[string]any{"labels": map[string]string{"bad key!": "x"}}, "labels"},
		{map[string]any{"token": "x"}, "token"},
	} {
		if r := c.do(t, "POST", "/api/enrollment-tokens", tc.body).want(t, 400); r.field() != tc.field {
			t.Errorf("%v: field %q, want %q (%s)", tc.body, r.field(), tc.field, r.msg())
		}
	}
	// The audit log records creation and revocation, never the token.
	entries, err := e.st.ListAudit(context.Background(), store.AuditFilter{TargetType: "enrollment_token"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range entries {
		actions = append(actions, a.Action)
		if strings.Contains(string(a.Details), parsed.Secret) {
			t.Errorf("audit entry %s holds the token", a.Action)
		}
	}
	testenv.Equal(t, "audit actions", strings.Join(actions, ","), "enrollment_token.revoke,enrollment_token.create,enrollment_token.create")
	if logs := e.logs.String(); !strings.Contains(logs, "enrollment token created") {
		t.Errorf("the log lacks the token's creation; the search for its secret would prove little:\n%s", logs)
	} else if strings.Contains(logs, parsed.Secret) {
		t.Error("the log holds the token's secret")
	}
}

func TestEnrollCreatesNodeOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	tok := makeJoinToken(t, c, map[string]any{"labels": map[string]string{"region": "eu-west"}})
	req := enrollBody(t, tok.Token, "edge-1")
	var got agentapi.EnrollResponse
	e.anon().do(t, "POST", "/api/enroll", req).want(t, 201).decode(t, &got)
	testenv.Equal(t, "name", got.Name, "edge-1")
	testenv.Equal(t, "pool", got.IPPool, "10.128.0.0/24")
	testenv.Equal(t, "address", got.Address, "10.128.0.1/24")

	n, err := e.st.GetNode(context.Background(), got.NodeID)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "agent url", n.AgentURL, req.AgentURL)
	testenv.Equal(t, "endpoint", n.Endpoint, req.Endpoint)
	testenv.Equal(t, "secret", string(n.Secret), req.Secret)
	testenv.Equal(t, "server key", n.ServerPublicKey.String(), req.PublicKey)
	testenv.Equal(t, "enabled", n.Enabled, true)
	testenv.Equal(t, "labels", n.Labels.String(), "region=eu-west")

	// The token is used up: a second agent gets 401 and nothing is made.
	before := e.counts(t)
	r := e.anon().do(t, "POST", "/api/enroll", enrollBody(t, tok.Token, "edge-2")).want(t, 401)
	if !strings.Contains(r.msg(), "already used") {
		t.Errorf("message %q does not say the token was used", r.msg())
	}
	if after := e.counts(t); after != before {
		t.Errorf("a refused enrollment wrote: %+v -> %+v", before, after)
	}
	var list []fleet.EnrollmentTokenView
	c.do(t, "GET", "/api/enrollment-tokens", nil).want(t, 200).decode(t, &list)
	if list[0].State != "used" || list[0].NodeID == nil || *list[0].NodeID != got.NodeID {
		t.Errorf("token after use: %+v", list[0])
	}

	// The next node gets the next free pool; a token may name a pool and
	// the node's name.
	tok2 := makeJoinToken(t, c, nil)
	e.anon().do(t, "POST", "/api/enroll", enrollBody(t, tok2.Token, "edge-3")).want(t, 201).decode(t, &got)
	testenv.Equal(t, "second carved pool", got.IPPool, "10.128.1.0/24")
	tok3 := makeJoinToken(t, c, map[string]any{"name": "named", "ip_pool_cidr": "10.60.0.0/28"})
	tlsReq := enrollBody(t, tok3.Token, "edge-4")
	fp := agentapi.FingerprintOf([]byte("the agent's certificate"))
	tlsReq.AgentURL, tlsReq.TLSFingerprint = "https://edge-4.example.net:8080", fp.String()
	e.anon().do(t, "POST", "/api/enroll", tlsReq).want(t, 201).decode(t, &got)
	testenv.Equal(t, "token's name", got.Name, "named")
	testenv.Equal(t, "token's pool", got.IPPool, "10.60.0.0/28")
	if n, err := e.st.GetNode(context.Background(), got.NodeID); err != nil || n.TLSFingerprint != fp {
		t.Errorf("the https node's pinned fingerprint: %v, %v; want %v", n.TLSFingerprint, err, fp)
	}

	entries, err := e.st.ListAudit(context.Background(), store.AuditFilter{TargetType: "node"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 || entries[0].Action != "node.enroll" || !strings.HasPrefix(entries[0].Actor, "enroll:wgj1.") {
		t.Errorf("node audit entries: %+v", entries)
	}
	for _, a := range entries {
		if strings.Contains(string(a.Details), req.Secret) {
			t.Error("an audit entry holds the node's secret")
		}
	}
}

func TestEnrollRefusesBadTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	c := e.login(t)
	revoked := makeJoinToken(t, c, nil)
	c.do(t, "DELETE", fmt.Sprintf("/api/enrollment-tokens/%d", revoked.ID), nil).want(t, 200)
	unknown, err := agentapi.NewJoinToken(agentapi.Fingerprint{})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := agentapi.NewJoinToken(agentapi.Fingerprint{})
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.InTx(context.Background(), func(tx *store.Tx) error {
		_, err := tx.CreateEnrollmentToken(context.Background(), store.EnrollmentToken{
			Hash: store.HashToken(expired.Secret), Prefix: expired.Display(), CreatedBy: "test",
			ExpiresAt: time.Now().Add(-time.Second),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	before := e.counts(t)
	for _, tc := range []struct{ name, token, want string }{
		{"revoked", revoked.Token, "revoked"},
		{"expired", expired.String(), "expired"},
		{"unknown", unknown.String(), "unknown join token"},
		{"malformed", "wgj1.nope", "malformed join token"},
		{"api token", "wgf_abc", "malformed join token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.anon().do(t, "POST", "/api/enroll", enrollBody(t, tc.token, "edge-"+tc.name)).want(t, 401)
			if !strings.Contains(r.msg(), tc.want) {
				t.Errorf("message %q does not say %q", r.msg(), tc.want)
			}
		})
	}
	if after := e.counts(t); after.nodes != before.nodes || after.audit != before.audit {
		t.Errorf("refused enrollments wrote: %+v -> %+v", before, after)
	}
	// A bad request body is 400 naming the field, and creates nothing.
	good := makeJoinToken(t, c, nil)
	bad := enrollBody(t, good.Token, "edge-bad")
	bad.Endpoint = "no-port"
	if r := e.anon().do(t, "POST", "/api/enroll", bad).want(t, 400); r.field() != "endpoint" {
		t.Errorf("field %q, want endpoint (%s)", r.field(), r.msg())
	}
	bad = enrollBody(t, good.Token, "edge-bad")
	bad.PublicKey = "abc"
	e.anon().do(t, "POST", "/api/enroll", bad).want(t, 400)
	bad = enrollBody(t, good.Token, "edge-bad")
	bad.TLSFingerprint = agentapi.FingerprintOf([]byte("cert")).String() // for an http URL
	if r := e.anon().do(t, "POST", "/api/enroll", bad).want(t, 400); r.field() != "tls_fingerprint" {
		t.Errorf("field %q, want tls_fingerprint (%s)", r.field(), r.msg())
	}
	e.anon().do(t, "POST", "/api/enroll", `{"token": "x", "extra": 1}`).want(t, 400)
	e.anon().do(t, "POST", "/api/enroll", strings.Repeat(" ", maxEnrollBodyBytes+1)).want(t, 413)
	if e.nodeCount(t) != before.nodes {
		t.Error("a bad enrollment created a node")
	}
	// The token survived all that.
	e.anon().do(t, "POST", "/api/enroll", enrollBody(t, good.Token, "edge-good")).want(t, 201)
}

// TestEnrollRace: agents racing with one token get exactly one node.
func TestEnrollRace(t *testing.T) {
	e := newEnv(t, envOptions{})
	tok := makeJoinToken(t, e.login(t), nil)
	const racers = 8
	statuses := make([]int, racers)
	reqs := make([]agentapi.EnrollRequest, racers)
	for i := range reqs {
		reqs[i] = enrollBody(t, tok.Token, fmt.Sprintf("racer-%d", i))
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			statuses[i] = e.anon().do(t, "POST", "/api/enroll", reqs[i]).status
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, s := range statuses {
		switch s {
		case http.StatusCreated:
			won++
		case http.StatusUnauthorized:
		default:
			t.Errorf("racer %d: status %d", i, s)
		}
	}
	if won != 1 {
		t.Errorf("%d racers enrolled (%v), want exactly 1", won, statuses)
	}
	if n := e.nodeCount(t); n != 1 {
		t.Errorf("%d nodes after the race, want 1", n)
	}
}

// TestEnrollRateLimited: failed enrollments from one address are limited
// like failed logins.
func TestEnrollRateLimited(t *testing.T) {
	e := newEnv(t, envOptions{})
	unknown, err := agentapi.NewJoinToken(agentapi.Fingerprint{})
	if err != nil {
		t.Fatal(err)
	}
	c := e.anon()
	var last resp
	for range 25 {
		last = c.do(t, "POST", "/api/enroll", enrollBody(t, unknown.String(), "guess"))
		if last.status == http.StatusTooManyRequests {
			break
		}
		last.want(t, 401)
	}
	last.want(t, 429)
	if last.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}
