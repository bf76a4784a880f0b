package store

// The Store's entity methods: each runs its Tx counterpart in a
// transaction of its own, a read-only one (View) for those that only
// read. Use InTx to combine several in one, View to read several from
// one snapshot.

import (
	"context"
	"errors"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/labels"
)

// CreateNode runs Tx.CreateNode in its own transaction.
func (s *Store) CreateNode(ctx context.Context, n Node) (Node, error) {
	return inTx(ctx, s, func(tx *Tx) (Node, error) { return tx.CreateNode(ctx, n) })
}

// GetNode runs Tx.GetNode in a read-only transaction (View).
func (s *Store) GetNode(ctx context.Context, id int64) (Node, error) {
	return view(ctx, s, func(tx *Tx) (Node, error) { return tx.GetNode(ctx, id) })
}

// GetNodeByName runs Tx.GetNodeByName in a read-only transaction (View).
func (s *Store) GetNodeByName(ctx context.Context, name string) (Node, error) {
	return view(ctx, s, func(tx *Tx) (Node, error) { return tx.GetNodeByName(ctx, name) })
}

// ListNodes runs Tx.ListNodes in a read-only transaction (View).
func (s *Store) ListNodes(ctx context.Context) ([]Node, error) {
	return view(ctx, s, func(tx *Tx) ([]Node, error) { return tx.ListNodes(ctx) })
}

// UpdateNode runs Tx.UpdateNode in its own transaction.
func (s *Store) UpdateNode(ctx context.Context, n Node) (Node, error) {
	return inTx(ctx, s, func(tx *Tx) (Node, error) { return tx.UpdateNode(ctx, n) })
}

// DeleteNode runs Tx.DeleteNode in its own transaction.
func (s *Store) DeleteNode(ctx context.Context, id int64, force bool) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.DeleteNode(ctx, id, force) })
}

// SetNodeEnabled runs Tx.SetNodeEnabled in its own transaction.
func (s *Store) SetNodeEnabled(ctx context.Context, id int64, enabled bool) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.SetNodeEnabled(ctx, id, enabled) })
}

// RecordNodeHealth runs Tx.RecordNodeHealth in its own transaction.
func (s *Store) RecordNodeHealth(ctx context.Context, id int64, status NodeStatus, healthJSON []byte, serverKey wgtypes.Key, errMsg string, success bool) error {
	return s.InTx(ctx, func(tx *Tx) error {
		return tx.RecordNodeHealth(ctx, id, status, healthJSON, serverKey, errMsg, success)
	})
}

// BumpGeneration runs Tx.BumpGeneration in its own transaction.
func (s *Store) BumpGeneration(ctx context.Context, id int64) (int64, error) {
	return inTx(ctx, s, func(tx *Tx) (int64, error) { return tx.BumpGeneration(ctx, id) })
}

// SetAckedGeneration runs Tx.SetAckedGeneration in its own transaction.
func (s *Store) SetAckedGeneration(ctx context.Context, id, gen int64) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.SetAckedGeneration(ctx, id, gen) })
}

// RecordDrift runs Tx.RecordDrift in its own transaction.
func (s *Store) RecordDrift(ctx context.Context, id int64) (int64, error) {
	return inTx(ctx, s, func(tx *Tx) (int64, error) { return tx.RecordDrift(ctx, id) })
}

// SetCurrentDrift runs Tx.SetCurrentDrift in its own transaction.
func (s *Store) SetCurrentDrift(ctx context.Context, id int64, n int) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.SetCurrentDrift(ctx, id, n) })
}

// SetNodeAPIPaths runs Tx.SetNodeAPIPaths in its own transaction.
func (s *Store) SetNodeAPIPaths(ctx context.Context, id int64, agentURL, paths string) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.SetNodeAPIPaths(ctx, id, agentURL, paths) })
}

// SetNodeSecrets runs Tx.SetNodeSecrets in its own transaction.
func (s *Store) SetNodeSecrets(ctx context.Context, id int64, secret, prev []byte) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.SetNodeSecrets(ctx, id, secret, prev) })
}

// SetNodeTLSFingerprint runs Tx.SetNodeTLSFingerprint in its own
// transaction.
func (s *Store) SetNodeTLSFingerprint(ctx context.Context, id int64, agentURL string, fp agentapi.Fingerprint) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.SetNodeTLSFingerprint(ctx, id, agentURL, fp) })
}

// GetPeer runs Tx.GetPeer in a read-only transaction (View).
func (s *Store) GetPeer(ctx context.Context, id int64) (Peer, error) {
	return view(ctx, s, func(tx *Tx) (Peer, error) { return tx.GetPeer(ctx, id) })
}

// GetPeerByPublicKey runs Tx.GetPeerByPublicKey in a read-only transaction (View).
func (s *Store) GetPeerByPublicKey(ctx context.Context, nodeID int64, iface string, key wgtypes.Key) (Peer, error) {
	return view(ctx, s, func(tx *Tx) (Peer, error) { return tx.GetPeerByPublicKey(ctx, nodeID, iface, key) })
}

// ListPeers runs Tx.ListPeers in a read-only transaction (View).
func (s *Store) ListPeers(ctx context.Context, nodeID int64) ([]Peer, error) {
	return view(ctx, s, func(tx *Tx) ([]Peer, error) { return tx.ListPeers(ctx, nodeID) })
}

// ListAllPeers runs Tx.ListAllPeers in a read-only transaction (View).
func (s *Store) ListAllPeers(ctx context.Context) ([]Peer, error) {
	return view(ctx, s, func(tx *Tx) ([]Peer, error) { return tx.ListAllPeers(ctx) })
}

// CountPeers runs Tx.CountPeers in a read-only transaction (View).
func (s *Store) CountPeers(ctx context.Context, nodeID int64) (int, error) {
	return view(ctx, s, func(tx *Tx) (int, error) { return tx.CountPeers(ctx, nodeID) })
}

// UpdatePeer runs Tx.UpdatePeer in its own transaction.
func (s *Store) UpdatePeer(ctx context.Context, p Peer) (Peer, error) {
	return inTx(ctx, s, func(tx *Tx) (Peer, error) { return tx.UpdatePeer(ctx, p) })
}

// SetPeerEnabled runs Tx.SetPeerEnabled in its own transaction.
func (s *Store) SetPeerEnabled(ctx context.Context, id int64, enabled bool) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.SetPeerEnabled(ctx, id, enabled) })
}

// DeletePeer runs Tx.DeletePeer in its own transaction.
func (s *Store) DeletePeer(ctx context.Context, id int64) (Peer, error) {
	return inTx(ctx, s, func(tx *Tx) (Peer, error) { return tx.DeletePeer(ctx, id) })
}

// SetPeerSyncState runs Tx.SetPeerSyncState in its own transaction.
func (s *Store) SetPeerSyncState(ctx context.Context, id int64, state SyncState, errMsg string) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.SetPeerSyncState(ctx, id, state, errMsg) })
}

// RecordPeerStats runs Tx.RecordPeerStats in its own transaction.
func (s *Store) RecordPeerStats(ctx context.Context, id int64, handshake time.Time, rx, txBytes int64) error {
	return s.InTx(ctx, func(tx *Tx) error {
		_, _, err := tx.RecordPeerStats(ctx, id, handshake, rx, txBytes)
		return err
	})
}

// allocationAttempts bounds CreatePeerWithAllocation's retries.
const allocationAttempts = 5

// CreatePeerWithAllocation runs Tx.CreatePeerWithAllocation in its own
// transaction, retrying when another writer took the chosen address first.
// With the store's single connection and BEGIN IMMEDIATE that cannot
// happen from inside this process; the retry keeps allocation correct if
// another process writes the same file.
func (s *Store) CreatePeerWithAllocation(ctx context.Context, p Peer) (Peer, error) {
	for attempt := 1; ; attempt++ {
		out, err := inTx(ctx, s, func(tx *Tx) (Peer, error) { return tx.CreatePeerWithAllocation(ctx, p) })
		if !errors.Is(err, errAllocationRace) || attempt == allocationAttempts {
			return out, err
		}
	}
}

// CreateUser runs Tx.CreateUser in its own transaction.
func (s *Store) CreateUser(ctx context.Context, username, passwordHash string) (User, error) {
	return inTx(ctx, s, func(tx *Tx) (User, error) { return tx.CreateUser(ctx, username, passwordHash) })
}

// GetUser runs Tx.GetUser in a read-only transaction (View).
func (s *Store) GetUser(ctx context.Context, id int64) (User, error) {
	return view(ctx, s, func(tx *Tx) (User, error) { return tx.GetUser(ctx, id) })
}

// GetUserByUsername runs Tx.GetUserByUsername in a read-only transaction (View).
func (s *Store) GetUserByUsername(ctx context.Context, username string) (User, error) {
	return view(ctx, s, func(tx *Tx) (User, error) { return tx.GetUserByUsername(ctx, username) })
}

// CountUsers runs Tx.CountUsers in a read-only transaction (View).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	return view(ctx, s, func(tx *Tx) (int, error) { return tx.CountUsers(ctx) })
}

// SetPasswordHash runs Tx.SetPasswordHash in its own transaction.
func (s *Store) SetPasswordHash(ctx context.Context, userID int64, passwordHash string) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.SetPasswordHash(ctx, userID, passwordHash) })
}

// CreateSession runs Tx.CreateSession in its own transaction.
func (s *Store) CreateSession(ctx context.Context, sess Session) (Session, error) {
	return inTx(ctx, s, func(tx *Tx) (Session, error) { return tx.CreateSession(ctx, sess) })
}

// GetSession runs Tx.GetSession in a read-only transaction (View).
func (s *Store) GetSession(ctx context.Context, hash TokenHash) (Session, error) {
	return view(ctx, s, func(tx *Tx) (Session, error) { return tx.GetSession(ctx, hash) })
}

// DeleteSession runs Tx.DeleteSession in its own transaction.
func (s *Store) DeleteSession(ctx context.Context, hash TokenHash) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.DeleteSession(ctx, hash) })
}

// DeleteExpiredSessions runs Tx.DeleteExpiredSessions in its own transaction.
func (s *Store) DeleteExpiredSessions(ctx context.Context) (int64, error) {
	return inTx(ctx, s, func(tx *Tx) (int64, error) { return tx.DeleteExpiredSessions(ctx) })
}

// CreateAPIToken runs Tx.CreateAPIToken in its own transaction.
func (s *Store) CreateAPIToken(ctx context.Context, name string, hash TokenHash, prefix string, expiresAt time.Time) (APIToken, error) {
	return inTx(ctx, s, func(tx *Tx) (APIToken, error) { return tx.CreateAPIToken(ctx, name, hash, prefix, expiresAt) })
}

// ListAPITokens runs Tx.ListAPITokens in a read-only transaction (View).
func (s *Store) ListAPITokens(ctx context.Context) ([]APIToken, error) {
	return view(ctx, s, func(tx *Tx) ([]APIToken, error) { return tx.ListAPITokens(ctx) })
}

// RevokeAPIToken runs Tx.RevokeAPIToken in its own transaction.
func (s *Store) RevokeAPIToken(ctx context.Context, id int64) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.RevokeAPIToken(ctx, id) })
}

// LookupAPIToken runs Tx.LookupAPIToken, one statement, as a read of its
// own (ViewOne): every API request with a token makes it.
func (s *Store) LookupAPIToken(ctx context.Context, hash TokenHash) (APIToken, error) {
	return viewOne(ctx, s, func(tx *Tx) (APIToken, error) { return tx.LookupAPIToken(ctx, hash) })
}

// TouchAPIToken runs Tx.TouchAPIToken in its own transaction.
func (s *Store) TouchAPIToken(ctx context.Context, id int64) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.TouchAPIToken(ctx, id) })
}

// AppendAudit runs Tx.AppendAudit in its own transaction.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	return inTx(ctx, s, func(tx *Tx) (AuditEntry, error) { return tx.AppendAudit(ctx, e) })
}

// ListAudit runs Tx.ListAudit in a read-only transaction (View).
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	return view(ctx, s, func(tx *Tx) ([]AuditEntry, error) { return tx.ListAudit(ctx, f) })
}

// ListNodesMatching runs Tx.ListNodesMatching in a read-only transaction (View).
func (s *Store) ListNodesMatching(ctx context.Context, sel labels.Set) ([]Node, error) {
	return view(ctx, s, func(tx *Tx) ([]Node, error) { return tx.ListNodesMatching(ctx, sel) })
}

// SearchPeers runs Tx.SearchPeers in a read-only transaction (View).
func (s *Store) SearchPeers(ctx context.Context, q PeerQuery) ([]Peer, bool, error) {
	var more bool
	peers, err := view(ctx, s, func(tx *Tx) ([]Peer, error) {
		p, m, err := tx.SearchPeers(ctx, q)
		more = m
		return p, err
	})
	return peers, more, err
}

// CreateUserWithRole runs Tx.CreateUserWithRole in its own transaction.
func (s *Store) CreateUserWithRole(ctx context.Context, username, passwordHash, role string) (User, error) {
	return inTx(ctx, s, func(tx *Tx) (User, error) { return tx.CreateUserWithRole(ctx, username, passwordHash, role) })
}

// ListUsers runs Tx.ListUsers in its own transaction.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	return inTx(ctx, s, func(tx *Tx) ([]User, error) { return tx.ListUsers(ctx) })
}

// GetTOTP runs Tx.GetTOTP in its own transaction.
func (s *Store) GetTOTP(ctx context.Context, userID int64) (TOTP, error) {
	return inTx(ctx, s, func(tx *Tx) (TOTP, error) { return tx.GetTOTP(ctx, userID) })
}
