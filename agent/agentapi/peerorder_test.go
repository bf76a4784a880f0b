package agentapi

import (
	"slices"
	"testing"
)

func TestPeersByKey(t *testing.T) {
	sorted := []Peer{{PublicKey: "a"}, {PublicKey: "b"}, {PublicKey: "c"}}
	if got := PeersByKey(sorted); &got[0] != &sorted[0] {
		t.Fatal("a list in order was copied")
	}
	mixed := []Peer{{PublicKey: "c"}, {PublicKey: "a"}, {PublicKey: "b"}}
	got := PeersByKey(mixed)
	if !slices.EqualFunc(got, sorted, func(a, b Peer) bool { return a.PublicKey == b.PublicKey }) {
		t.Fatalf("sorted: %v", got)
	}
	if mixed[0].PublicKey != "c" || mixed[1].PublicKey != "a" {
		t.Fatalf("the caller's list changed: %v", mixed)
	}
}
