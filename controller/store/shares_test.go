package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// shareLinksMigration is the version that added share_links.
const shareLinksMigration = 11

// shareLinksFixture: a link written at 0011 survives later migrations,
// and the table refuses a hash of the wrong length.
func shareLinksFixture() migrationFixture {
	return migrationFixture{
		insert: func(t *testing.T, db *sql.DB) {
			box := testBox(t, 1)
			secret, err := box.Seal([]byte("v11-node-secret"), nodeSecretAAD(11))
			if err != nil {
				t.Fatal(err)
			}
			k := newKey(t).PublicKey().String()
			execAll(t, db,
				`INSERT INTO nodes (id, name, agent_url, secret_enc, ip_pool_cidr, created_at, updated_at)
				 VALUES (11, 'v11-node', 'https://v11.example.net', '`+secret+`', '10.11.0.0/24', 1, 1)`,
				`INSERT INTO peers (id, node_id, iface, name, public_key, address4, allowed_ips, created_at, updated_at)
				 VALUES (11, 11, 'wg0', 'v11-peer', '`+k+`', '10.11.0.2', '10.11.0.2/32', 1, 1)`,
				`INSERT INTO share_links (id, peer_id, token_hash, one_time, created_by, created_at, expires_at)
				 VALUES (11, 11, zeroblob(32), 1, 'user:admin', 1, 4102444800)`,
			)
			if _, err := db.Exec(`INSERT INTO share_links (peer_id, token_hash, created_by, created_at, expires_at)
				VALUES (11, zeroblob(31), 'x', 1, 2)`); err == nil {
				t.Fatal("a 31-byte token hash was accepted")
			}
		},
		check: func(t *testing.T, s *Store) {
			var sh Share
			err := s.InTx(context.Background(), func(tx *Tx) error {
				var err error
				sh, err = tx.GetShare(context.Background(), 11)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if sh.PeerID != 11 || !sh.OneTime || sh.CreatedBy != "user:admin" || sh.ExpiresAt.Unix() != 4102444800 {
				t.Fatalf("v11 share link after migration: %+v", sh)
			}
		},
	}
}

// TestShareLinks: states, uses, revocation, and links going with their
// peer.
func TestShareLinkLifecycle(t *testing.T) {
	s, clock, _ := openTest(t)
	ctx := context.Background()
	n := mustCreateNode(t, s, testNode("edge-1"))
	p := mustCreatePeer(t, s, testPeer(t, n.ID, "phone"))

	mk := func(token string, oneTime bool, ttl time.Duration) Share {
		t.Helper()
		var sh Share
		err := s.InTx(ctx, func(tx *Tx) error {
			var err error
			sh, err = tx.CreateShare(ctx, Share{PeerID: p.ID, Hash: HashToken(token), OneTime: oneTime, CreatedBy: "user:admin", ExpiresAt: clock.Now().Add(ttl)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return sh
	}
	use := func(id int64) (Share, error) {
		var sh Share
		err := s.InTx(ctx, func(tx *Tx) error {
			var err error
			sh, err = tx.UseShare(ctx, id)
			return err
		})
		return sh, err
	}
	once := mk("once", true, time.Hour)
	multi := mk("multi", false, time.Hour)
	short := mk("short", false, time.Minute)
	testenv.Equal(t, "new link state", once.State(clock.Now()), ShareActive)

	if _, err := use(once.ID); err != nil {
		t.Fatalf("first use of a one-time link: %v", err)
	}
	if _, err := use(once.ID); !errors.Is(err, ErrShareGone) {
		t.Errorf("second use of a one-time link: %v, want ErrShareGone", err)
	}
	for range 3 {
		if _, err := use(multi.ID); err != nil {
			t.Fatalf("use of a multi-use link: %v", err)
		}
	}
	clock.Advance(time.Minute)
	if _, err := use(short.ID); !errors.Is(err, ErrShareGone) {
		t.Errorf("use of an expired link: %v, want ErrShareGone", err)
	}
	var revoked Share
	err := s.InTx(ctx, func(tx *Tx) error {
		var err error
		revoked, err = tx.RevokeShare(ctx, multi.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := use(multi.ID); !errors.Is(err, ErrShareGone) {
		t.Errorf("use of a revoked link: %v, want ErrShareGone", err)
	}
	if _, err := use(999); !errors.Is(err, ErrShareNotFound) {
		t.Errorf("use of an unknown link: %v, want ErrShareNotFound", err)
	}

	var list []Share
	var found Share
	err = s.InTx(ctx, func(tx *Tx) error {
		var err error
		if list, err = tx.ListShares(ctx, p.ID); err != nil {
			return err
		}
		found, err = tx.LookupShare(ctx, HashToken("once"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	now := clock.Now()
	testenv.Equal(t, "links listed", len(list), 3)
	testenv.Equal(t, "newest first", list[0].ID, short.ID)
	testenv.Equal(t, "expired state", list[0].State(now), ShareExpired)
	testenv.Equal(t, "revoked state", list[1].State(now), ShareRevoked)
	testenv.Equal(t, "revoked uses", list[1].UsedCount, int64(3))
	testenv.Equal(t, "revoked at", list[1].RevokedAt, revoked.RevokedAt)
	testenv.Equal(t, "used state", found.State(now), ShareUsed)

	// A peer's links go with it.
	if _, err := s.DeletePeer(ctx, p.ID); err != nil {
		t.Fatal(err)
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		_, err := tx.GetShare(ctx, once.ID)
		return err
	})
	if !errors.Is(err, ErrShareNotFound) {
		t.Errorf("a deleted peer's link: %v, want ErrShareNotFound", err)
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		_, err := tx.CreateShare(ctx, Share{PeerID: p.ID, Hash: HashToken("x"), CreatedBy: "u", ExpiresAt: now.Add(time.Hour)})
		return err
	})
	if !errors.Is(err, ErrPeerNotFound) {
		t.Errorf("a link for a deleted peer: %v, want ErrPeerNotFound", err)
	}
}
