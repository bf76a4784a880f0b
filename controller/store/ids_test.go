package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Ids are never reused: after the node, peer, user or API token with the
// highest id is deleted, the next one gets a higher id, so that a retried
// DELETE of the old id cannot hit the new row (issue 10 item 6).
func TestIDsAreNeverReused(t *testing.T) {
	s, _, _ := openTest(t)
	ctx := context.Background()

	n1 := mustCreateNode(t, s, testNode("edge-1"))
	p1 := mustCreatePeer(t, s, testPeer(t, n1.ID, "p1"))
	p2 := mustCreatePeer(t, s, testPeer(t, n1.ID, "p2"))
	if _, err := s.DeletePeer(ctx, p2.ID); err != nil {
		t.Fatal(err)
	}
	if p3 := mustCreatePeer(t, s, testPeer(t, n1.ID, "p3")); p3.ID <= p2.ID {
		t.Errorf("peer ids %d, %d, then %d after deleting %d: an id was reused", p1.ID, p2.ID, p3.ID, p2.ID)
	}

	n2 := mustCreateNode(t, s, testNode("edge-2"))
	if err := s.DeleteNode(ctx, n2.ID, false); err != nil {
		t.Fatal(err)
	}
	if n3 := mustCreateNode(t, s, testNode("edge-3")); n3.ID <= n2.ID {
		t.Errorf("node id %d after deleting %d: an id was reused", n3.ID, n2.ID)
	}

	// Users and tokens are never deleted by the store today; a row deleted
	// by hand must not give its id away either.
	u, err := s.CreateUser(ctx, "alice", "hash")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.CreateAPIToken(ctx, "ci", HashToken("wgf_one"), "wgf_one", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	execAll(t, s.db, fmt.Sprint("DELETE FROM users WHERE id = ", u.ID), fmt.Sprint("DELETE FROM api_tokens WHERE id = ", tok.ID))
	if u2, err := s.CreateUser(ctx, "bob", "hash"); err != nil || u2.ID <= u.ID {
		t.Errorf("user id %d after deleting %d (err %v): an id was reused", u2.ID, u.ID, err)
	}
	if tok2, err := s.CreateAPIToken(ctx, "ci", HashToken("wgf_two"), "wgf_two", time.Time{}); err != nil || tok2.ID <= tok.ID {
		t.Errorf("token id %d after deleting %d (err %v): an id was reused", tok2.ID, tok.ID, err)
	}
}
