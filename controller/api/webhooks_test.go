package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/webhook"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestWebhookRoutes: create (bad input named by field), list without the
// secret, the test button against a real receiver that takes it and one
// that refuses it, the delivery log, delete, audited; 503 without a
// dispatcher.
func TestWebhookRoutes(t *testing.T) {
	e := newEnv(t, envOptions{webhooks: true})
	c := e.login(t)
	const secret = "webhook secret for the api test"
	var gotSig string
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotSig = r.Header.Get(webhook.SignatureHeader)
	}))
	t.Cleanup(ok.Close)
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "secret page text", http.StatusForbidden)
	}))
	t.Cleanup(refusing.Close)

	for _, bad := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"events": []string{"node.offline"}, "secret": secret}, "url"},
		{map[string]any{"url": "mailto:x@example.com", "events": []string{"node.offline"}, "secret": secret}, "url"},
		{map[string]any{"url": ok.URL, "events": []string{"node.gone"}, "secret": secret}, "events"},
		{map[string]any{"url": ok.URL, "events": []string{"node.offline"}, "secret": "short"}, "secret"},
	} {
		if r := c.do(t, "POST", "/api/webhooks", bad.body).want(t, 400); r.field() != bad.field {
			t.Errorf("%v: field %q, want %q", bad.body, r.field(), bad.field)
		}
	}
	c.do(t, "POST", "/api/webhooks", map[string]any{"url": ok.URL, "events": []string{"node.offline"}, "secret": secret, "colour": 1}).want(t, 400)

	var v1, v2 webhook.View
	c.do(t, "POST", "/api/webhooks", map[string]any{"url": ok.URL, "events": []string{"node.offline", "peer.expired"}, "secret": secret}).want(t, 201).decode(t, &v1)
	c.do(t, "POST", "/api/webhooks", map[string]any{"url": refusing.URL, "events": []string{"node.online"}, "secret": secret}).want(t, 201).decode(t, &v2)
	r := c.do(t, "GET", "/api/webhooks", nil).want(t, 200)
	if strings.Contains(string(r.body), secret) {
		t.Errorf("the list shows a secret: %s", r.body)
	}
	var list []webhook.View
	r.decode(t, &list)
	testenv.Equal(t, "webhooks listed", len(list), 2)
	var evs []string
	c.do(t, "GET", "/api/webhooks/events", nil).want(t, 200).decode(t, &evs)
	testenv.Equal(t, "events offered", len(evs), 7)

	var d webhook.DeliveryView
	r = c.do(t, "POST", fmt.Sprintf("/api/webhooks/%d/test", v1.ID), nil).want(t, 200)
	r.decode(t, &d)
	if !r.env.Status || d.State != "delivered" || !strings.HasPrefix(gotSig, "sha256=") {
		t.Errorf("test of a receiver that takes it: %s (signature %q)", r.body, gotSig)
	}
	r = c.do(t, "POST", fmt.Sprintf("/api/webhooks/%d/test", v2.ID), nil).want(t, 200)
	r.decode(t, &d)
	if r.env.Status || d.State != "failed" || d.LastStatus != 403 || !strings.Contains(r.msg(), "403") || strings.Contains(string(r.body), "secret page text") {
		t.Errorf("test of a refusing receiver: %s", r.body)
	}
	var log []webhook.DeliveryView
	c.do(t, "GET", fmt.Sprintf("/api/webhooks/%d/deliveries", v2.ID), nil).want(t, 200).decode(t, &log)
	if len(log) != 1 || log[0].Event != "webhook.test" || log[0].State != "failed" {
		t.Errorf("delivery log %+v", log)
	}
	c.do(t, "GET", "/api/webhooks/99/deliveries", nil).want(t, 404)
	c.do(t, "GET", fmt.Sprintf("/api/webhooks/%d/deliveries?limit=x", v2.ID), nil).want(t, 400)
	c.do(t, "POST", "/api/webhooks/99/test", nil).want(t, 404)
	c.do(t, "DELETE", fmt.Sprintf("/api/webhooks/%d", v2.ID), nil).want(t, 200)
	c.do(t, "DELETE", fmt.Sprintf("/api/webhooks/%d", v2.ID), nil).want(t, 404)

	entries, err := e.st.ListAudit(t.Context(), store.AuditFilter{TargetType: "webhook"})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Equal(t, "webhook audit entries", len(entries), 3)
	for _, en := range entries {
		if strings.Contains(string(en.Details), secret) {
			t.Errorf("audit %s holds the secret", en.Action)
		}
	}

	plain := newEnv(t, envOptions{})
	plain.login(t).do(t, "GET", "/api/webhooks", nil).want(t, 503)
}
