package fleet

import (
	"context"
	"errors"
	"testing"
)

// TestPeerMessagesSayOneThing: a refused peer field is one sentence that
// names the bad value, not a sentence followed by a lower layer's
// repetition of it; a bad route names the entry among a comma-separated
// list, in the words of the form (not JSON).
func TestPeerMessagesSayOneThing(t *testing.T) {
	e := newEnv(t)
	n := e.createNode(t, nodeIn("n1"))
	pool := n.IPPool
	tests := []struct {
		name  string
		in    PeerInput
		field string
		want  string
	}{
		{"outside the pool", PeerInput{Address: ptr("10.55.0.9")}, "address",
			"10.55.0.9 is not in the node's pool " + pool},
		{"the interface's address", PeerInput{Address: ptr("10.8.0.1")}, "address",
			"10.8.0.1 is reserved in the node's pool " + pool + " (its network, interface or broadcast address)"},
		{"a bad route among good ones", PeerInput{ClientAllowedIPs: &[]string{"0.0.0.0/0", "10.0.0.300/24"}}, "client_allowed_ips",
			`"10.0.0.300/24" is not a CIDR prefix; give a comma-separated list of prefixes such as 0.0.0.0/0, ::/0 or 10.8.0.0/24`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			in.Name = ptr("msg-" + tt.field)
			_, err := e.svc.CreatePeer(context.Background(), actor, n.ID, in)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field || ve.Message != tt.want {
				t.Fatalf("error %v, want on %s: %q", err, tt.field, tt.want)
			}
		})
	}
}
