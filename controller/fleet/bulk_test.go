package fleet

import (
	"context"
	"fmt"
	"testing"
)

// TestNextNameNumber: only prefix followed by digits counts; the next
// number is one above the highest.
func TestNextNameNumber(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  int
	}{
		{"none", nil, 1},
		{"gaps", []string{"laptop-1", "laptop-7", "laptop-3"}, 8},
		{"leading zeros", []string{"laptop-010"}, 11},
		{"other suffixes do not count", []string{"laptop-x", "laptop-", "laptop-2b", "laptop- 9"}, 1},
		{"absurdly long numbers do not count", []string{"laptop-99999999999999999999", "laptop-4"}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := nextNameNumber("laptop-", tt.names); got != tt.want {
				t.Errorf("nextNameNumber(%v) = %d, want %d", tt.names, got, tt.want)
			}
		})
	}
}

// TestCreatePeersTriggersEachNodeOnce: a batch of peers on one node asks
// for one reconcile of that node, not one per peer, and a refused batch
// asks for none.
func TestCreatePeersTriggersEachNodeOnce(t *testing.T) {
	e := newEnv(t)
	n := e.createNode(t, nodeIn("bulk-once"))
	e.syncer.take()
	res, err := e.svc.CreatePeers(context.Background(), actor, BulkPeerInput{Count: ptr(25), NamePrefix: ptr("cam-"),
		PeerInput: PeerInput{NodeID: []byte(fmt.Sprint(n.ID))}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.IDs) != 25 || res.Nodes[n.ID] != 25 {
		t.Fatalf("created %d peers, %v by node", len(res.IDs), res.Nodes)
	}
	wantTriggers(t, e.syncer, n.ID)
	if _, err := e.svc.CreatePeers(context.Background(), actor, BulkPeerInput{Count: ptr(300), NamePrefix: ptr("cam-"),
		PeerInput: PeerInput{NodeID: []byte(fmt.Sprint(n.ID))}}); err == nil {
		t.Fatal("300 more peers fit a /24 that holds 25")
	}
	wantTriggers(t, e.syncer)
}
