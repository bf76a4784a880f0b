package agent_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agenttest"
)

// TestUnknownBodyFieldsRefused: a field the agent does not set is 400 with
// a message naming it, never a 2xx that silently changes nothing; the
// endpoint is refused with its own message.
func TestUnknownBodyFieldsRefused(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	k := mustKey(t)
	status, out := rawCall(t, a, "POST", "/wg/wg0/peers", []byte(`{"public_key":"`+k.String()+`","allowed_ips":["10.0.1.2/32"]}`))
	if status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, out)
	}
	other := mustKey(t)
	tests := []struct {
		name, method, path, body, want string
	}{
		{"POST private_key", "POST", "/wg/wg0/peers", `{"public_key":"` + other.String() + `","allowed_ips":["10.0.1.3/32"],"private_key":"x"}`, `unknown field "private_key"`},
		{"POST listen_port", "POST", "/v1/wg/wg0/peers", `{"public_key":"` + other.String() + `","allowed_ips":["10.0.1.3/32"],"listen_port":51820}`, `unknown field "listen_port"`},
		{"PUT endpoint", "PUT", "/wg/wg0/peers/" + k.String(), `{"endpoint":"192.0.2.1:51820"}`, `"endpoint" is not supported`},
		{"PUT public_key", "PUT", "/wg/wg0/peers/" + k.String(), `{"public_key":"` + other.String() + `"}`, `unknown field "public_key"`},
		{"sync extra field", "PUT", "/v1/wg/wg0/peers", `{"peers":[{"public_key":"` + other.String() + `","allowed_ips":[],"endpoint":"192.0.2.1:1"}]}`, `"endpoint" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := rawCall(t, a, tt.method, tt.path, []byte(tt.body))
			if status != http.StatusBadRequest || !strings.Contains(errorText(t, out), tt.want) {
				t.Fatalf("%d %s, want 400 with %s", status, out, tt.want)
			}
		})
	}
	d := dumpOf(t, a)
	if len(d.Peers) != 1 || d.Peers[0].PublicKey != k.String() || d.Peers[0].Endpoint != nil {
		t.Fatalf("refused requests changed the peers: %+v", d.Peers)
	}
}
