package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/wgrules"
)

// SyncState says whether a peer's desired state has reached its node.
type SyncState string

const (
	SyncPending SyncState = "pending" // changed, not yet applied on the node
	SyncApplied SyncState = "applied" // the node confirmed it
	SyncError   SyncState = "error"   // the node refused it; see Peer.SyncError
)

func (s SyncState) valid() bool {
	return s == SyncPending || s == SyncApplied || s == SyncError
}

// DefaultClientAllowedIPs returns the routes a client config sends through
// the tunnel when none are given: everything, 0.0.0.0/0 and ::/0.
func DefaultClientAllowedIPs() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
}

// Peer is one WireGuard peer on one node's interface.
type Peer struct {
	ID        int64
	NodeID    int64
	Iface     string // the node's interface; "" means the node's WGInterface on create
	Name      string
	PublicKey wgtypes.Key
	// PrivateKey is set only when the controller generated the key pair
	// (to hand the client a config); nil when the client keeps its own.
	// It is sealed at rest and must never be logged.
	PrivateKey *wgtypes.Key
	// PresharedKey is nil when the peer has none. Sealed at rest.
	PresharedKey *wgtypes.Key
	// Address4 is the peer's IPv4 address from the node's pool. On create
	// the zero Addr means "allocate the next free one"; a set one is
	// claimed if it is usable and free.
	Address4 netip.Addr
	// Address6 is the peer's IPv6 address, zero when the node has no IPv6
	// pool. On create it works as Address4 does.
	Address6 netip.Addr
	// AllowedIPs is the node side of the tunnel: the peer's own /32 and
	// /128, never the pool prefix. The store derives it from the
	// addresses; it is ignored on input.
	AllowedIPs []netip.Prefix
	// ClientAllowedIPs are the routes in the client's config; empty means
	// DefaultClientAllowedIPs.
	ClientAllowedIPs []netip.Prefix
	DNS              string // overrides the node's DNS in client configs; "" for the node's
	// Keepalive is the PersistentKeepalive of the client's config, whole
	// seconds; 0 is off. It never reaches the node.
	Keepalive time.Duration
	// NodeKeepalive is the persistent keepalive the node's interface
	// keeps towards the peer, whole seconds; 0 is off.
	NodeKeepalive time.Duration
	// Enabled is taken as given: the zero value creates a restricted peer
	// that is kept in the store but not on the node.
	Enabled bool

	// ExpiresAt is when the peer expires (the controller then restricts
	// it: Restriction RestrictExpired); zero means never.
	ExpiresAt time.Time
	// DataLimit is how many bytes the peer may receive and send together
	// (Usage) before LimitAction runs; 0 means no limit.
	DataLimit int64
	// LimitAction is what reaching DataLimit does; "" on create and
	// update means LimitRestrict.
	LimitAction LimitAction
	// Restriction is why the controller itself keeps the peer off its
	// node (RestrictNone: it does not). Written by SetPeerRestriction
	// only; ignored on create and update.
	Restriction Restriction

	// Sync state, written by SetPeerSyncState; reset to pending by every
	// change of the desired state.
	SyncState SyncState
	SyncError string

	// Observed by polling, written by RecordPeerStats.
	LastHandshake time.Time // zero if none
	RxBytes       int64     // last observed counters; they reset when the node's device restarts
	TxBytes       int64
	RxTotal       int64 // cumulative, never decreasing
	TxTotal       int64
	// UsageBaseline is RxTotal+TxTotal when the usage was last reset
	// (ResetPeerUsage); Usage counts from it.
	UsageBaseline int64

	CreatedAt time.Time
	UpdatedAt time.Time // last change of the desired state (not of stats or sync state)
}

const peerColumns = `id, node_id, iface, name, public_key, private_key_enc, preshared_key_enc,
	address4, address6, allowed_ips, client_allowed_ips, dns, keepalive, node_keepalive, enabled,
	sync_state, sync_error, last_handshake, rx_bytes, tx_bytes, rx_total, tx_total,
	created_at, updated_at, expires_at, data_limit_bytes, limit_action, usage_baseline, restriction`

func (tx *Tx) scanPeer(sc scanner) (Peer, error) {
	var (
		p                      Peer
		pub, addr4, allowed    string
		clientAllowed          string
		privEnc, pskEnc, addr6 sql.NullString
		keepalive, nodeKA      int64
		handshake, expires     sql.NullInt64
		createdAt, updatedAt   int64
	)
	err := sc.Scan(&p.ID, &p.NodeID, &p.Iface, &p.Name, &pub, &privEnc, &pskEnc,
		&addr4, &addr6, &allowed, &clientAllowed, &p.DNS, &keepalive, &nodeKA, &p.Enabled,
		&p.SyncState, &p.SyncError, &handshake, &p.RxBytes, &p.TxBytes, &p.RxTotal, &p.TxTotal,
		&createdAt, &updatedAt, &expires, &p.DataLimit, &p.LimitAction, &p.UsageBaseline, &p.Restriction)
	if err != nil {
		return Peer{}, err
	}
	fail := func(what string, err error) (Peer, error) {
		return Peer{}, fmt.Errorf("peer %d: %s: %w", p.ID, what, err)
	}
	if p.PublicKey, err = agentapi.ParseKey(pub); err != nil {
		return fail("public_key", err)
	}
	if p.PrivateKey, err = tx.openKey(privEnc, peerPrivateKeyAAD(p.ID)); err != nil {
		return fail("private_key", err)
	}
	if p.PresharedKey, err = tx.openKey(pskEnc, peerPresharedKeyAAD(p.ID)); err != nil {
		return fail("preshared_key", err)
	}
	if p.Address4, err = netip.ParseAddr(addr4); err != nil {
		return fail("address4", err)
	}
	if p.Address6, err = parseNullAddr(addr6); err != nil {
		return fail("address6", err)
	}
	if p.AllowedIPs, err = parsePrefixList(allowed); err != nil {
		return fail("allowed_ips", err)
	}
	if p.ClientAllowedIPs, err = parsePrefixList(clientAllowed); err != nil {
		return fail("client_allowed_ips", err)
	}
	p.Keepalive = time.Duration(keepalive) * time.Second
	p.NodeKeepalive = time.Duration(nodeKA) * time.Second
	p.LastHandshake = fromNullTime(handshake)
	p.CreatedAt = unixTime(createdAt)
	p.UpdatedAt = unixTime(updatedAt)
	p.ExpiresAt = fromNullTime(expires)
	return p, nil
}

// normalizePeer fills defaults and checks the desired-state fields of p
// against its node. Errors wrap ErrInvalid.
func normalizePeer(p *Peer, node Node) error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Iface == "" {
		p.Iface = node.WGInterface
	}
	if p.Iface != node.WGInterface {
		return invalidf("interface %q is not node %s's interface %q", p.Iface, node.Name, node.WGInterface)
	}
	if p.PublicKey == (wgtypes.Key{}) {
		return invalidf("public key is empty")
	}
	if p.PrivateKey != nil && p.PrivateKey.PublicKey() != p.PublicKey {
		return invalidf("private key does not belong to public key %s", p.PublicKey)
	}
	if p.PresharedKey != nil && *p.PresharedKey == (wgtypes.Key{}) {
		return invalidf("preshared key is all zeros; use nil for none")
	}
	if p.Keepalive < 0 || p.Keepalive > wgrules.MaxKeepalive*time.Second {
		return invalidf("keepalive %s is outside 0s..%ds", p.Keepalive, wgrules.MaxKeepalive)
	}
	if p.NodeKeepalive < 0 || p.NodeKeepalive > wgrules.MaxKeepalive*time.Second {
		return invalidf("node keepalive %s is outside 0s..%ds", p.NodeKeepalive, wgrules.MaxKeepalive)
	}
	if len(p.ClientAllowedIPs) == 0 {
		p.ClientAllowedIPs = DefaultClientAllowedIPs()
	}
	if p.DataLimit < 0 {
		return invalidf("data limit %d is negative; 0 is no limit", p.DataLimit)
	}
	if p.LimitAction == "" {
		p.LimitAction = LimitRestrict
	}
	if !p.LimitAction.valid() {
		return invalidf("limit action %q is not %q or %q", p.LimitAction, LimitRestrict, LimitDelete)
	}
	for _, pr := range p.ClientAllowedIPs {
		if !pr.IsValid() {
			return invalidf("client allowed IPs hold an invalid prefix")
		}
	}
	return nil
}

// errAllocationRace marks an allocation that lost a race for an address
// between reading the used addresses and inserting its own; the Store
// retries it. It wraps ErrConflict for callers of Tx.
var errAllocationRace = fmt.Errorf("address taken concurrently: %w", ErrConflict)

// CreatePeerWithAllocation adds peer p to node p.NodeID and gives it
// addresses from the node's pools: the next free IPv4 address and, when the
// node has an IPv6 pool, the next free IPv6 one (or the requested
// Address4/Address6, if set, usable and free). Address rows, the peer and
// a bump of the node's desired generation are written together. The peer
// starts in SyncPending.
//
// Errors: ErrNodeNotFound, ErrNodeFull when the node has MaxPeers peers,
// ipam.ErrPoolExhausted, ErrConflict for a public key already on the
// node's interface or a requested address in use, ErrInvalid.
func (tx *Tx) CreatePeerWithAllocation(ctx context.Context, p Peer) (Peer, error) {
	node, err := tx.GetPeerHome(ctx, p.NodeID)
	if err != nil {
		return Peer{}, fmt.Errorf("creating peer: %w", err)
	}
	created, _, err := tx.CreatePeerOnNode(ctx, node, p)
	return created, err
}

// CreatePeerOnNode is CreatePeerWithAllocation on node, which the caller
// read in this transaction (Tx.GetPeerHome or Tx.GetNode) and which
// p.NodeID names: a creation that has the node at hand does not read it
// again. It also returns the node's desired generation its bump made.
// The peer returned is the row as written (what GetPeer would read), made
// without reading it back.
func (tx *Tx) CreatePeerOnNode(ctx context.Context, node Node, p Peer) (Peer, int64, error) {
	if p.NodeID != node.ID {
		return Peer{}, 0, fmt.Errorf("creating peer: %w: the peer names node %d, the node given is %d", ErrInvalid, p.NodeID, node.ID)
	}
	fail := func(err error) (Peer, int64, error) {
		return Peer{}, 0, fmt.Errorf("creating peer on node %s: %w", node.Name, err)
	}
	if err := normalizePeer(&p, node); err != nil {
		return fail(err)
	}
	if node.MaxPeers > 0 {
		n, err := tx.CountPeers(ctx, node.ID)
		if err != nil {
			return fail(err)
		}
		if n >= node.MaxPeers {
			return fail(fmt.Errorf("%w: %d of %d peers", ErrNodeFull, n, node.MaxPeers))
		}
	}
	requested4, requested6 := p.Address4.IsValid(), p.Address6.IsValid()
	var (
		hinted bool
		err    error
	)
	if !requested4 && !requested6 {
		var a4, a6 netip.Addr
		if a4, a6, hinted, err = tx.hintedAddrs(ctx, node); err != nil {
			return fail(err)
		}
		if hinted {
			p.Address4, p.Address6 = a4, a6
		}
	}
	if !hinted {
		var used4, used6 []netip.Addr
		used4, used6, err = tx.allocatedAddrs(ctx, node.ID)
		if err != nil {
			return fail(err)
		}
		if p.Address4, err = pickAddr(node.IPPool, p.Address4, used4); err != nil {
			return fail(err)
		}
		switch {
		case node.IPPool6.IsValid():
			if p.Address6, err = pickAddr(node.IPPool6, p.Address6, used6); err != nil {
				return fail(err)
			}
		case requested6:
			return fail(invalidf("address %s requested but the node has no IPv6 pool", p.Address6))
		}
	}
	p.AllowedIPs = []netip.Prefix{ipam.HostPrefix(p.Address4)}
	if p.Address6.IsValid() {
		p.AllowedIPs = append(p.AllowedIPs, ipam.HostPrefix(p.Address6))
	}

	var id int64
	err = tx.tx.QueryRowContext(ctx, `INSERT INTO peers
		(node_id, iface, name, public_key, address4, address6, allowed_ips, client_allowed_ips,
		 dns, keepalive, node_keepalive, enabled, sync_state, created_at, updated_at,
		 expires_at, data_limit_bytes, limit_action)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?) RETURNING id`,
		node.ID, p.Iface, p.Name, p.PublicKey.String(), p.Address4.String(), nullAddr(p.Address6),
		prefixList(p.AllowedIPs), prefixList(p.ClientAllowedIPs), p.DNS, int64(p.Keepalive/time.Second),
		int64(p.NodeKeepalive/time.Second),
		boolInt(p.Enabled), tx.now.Unix(), tx.now.Unix(),
		nullTime(p.ExpiresAt), p.DataLimit, string(p.LimitAction)).Scan(&id)
	if isPeerNameClash(err) {
		return fail(fmt.Errorf("name %q on node %s: %w", p.Name, node.Name, ErrPeerNameTaken))
	}
	if isUnique(err) {
		return fail(fmt.Errorf("public key %s is already on interface %s: %w", p.PublicKey, p.Iface, ErrConflict))
	}
	if err != nil {
		return fail(err)
	}
	if p.PrivateKey != nil || p.PresharedKey != nil { // sealed under the id: written once it is known
		if err := tx.writePeerKeys(ctx, id, p.PrivateKey, p.PresharedKey); err != nil {
			return fail(err)
		}
	}
	for _, a := range []struct {
		addr      netip.Addr
		requested bool
	}{{p.Address4, requested4}, {p.Address6, requested6}} {
		if !a.addr.IsValid() {
			continue
		}
		_, err := tx.tx.ExecContext(ctx, "INSERT INTO ip_allocations (node_id, ip, peer_id) VALUES (?, ?, ?)",
			node.ID, a.addr.String(), id)
		if isUnique(err) {
			if a.requested {
				return fail(fmt.Errorf("address %s is in use: %w", a.addr, ErrConflict))
			}
			return fail(fmt.Errorf("%s: %w", a.addr, errAllocationRace))
		}
		if err != nil {
			return fail(err)
		}
	}
	gen, err := tx.BumpGeneration(ctx, node.ID)
	if err != nil {
		return fail(err)
	}
	if requested4 || requested6 {
		tx.hints.drop(node.ID)
	} else {
		tx.hints.set(node.ID, allocHint{gen: gen, peer: id, addr4: p.Address4, addr6: p.Address6})
	}
	return insertedPeer(id, node.ID, p, tx.now), gen, nil
}

// insertedPeer is the peer row CreatePeerOnNode wrote for p under id, as
// GetPeer reads it: what the INSERT sets and the columns' defaults
// (TestCreatedPeerIsTheRow holds the two together), so a creation does
// not read back and open what it has just written.
func insertedPeer(id, nodeID int64, p Peer, now time.Time) Peer {
	row := Peer{
		ID: id, NodeID: nodeID, Iface: p.Iface, Name: p.Name, PublicKey: p.PublicKey,
		Address4: p.Address4, Address6: p.Address6,
		DNS: p.DNS, Enabled: p.Enabled,
		Keepalive:     time.Duration(int64(p.Keepalive/time.Second)) * time.Second, // whole seconds, as stored
		NodeKeepalive: time.Duration(int64(p.NodeKeepalive/time.Second)) * time.Second,
		ExpiresAt:     fromNullTime(nullTime(p.ExpiresAt)), DataLimit: p.DataLimit, LimitAction: p.LimitAction,
		Restriction: RestrictNone, SyncState: SyncPending, CreatedAt: now, UpdatedAt: now,
	}
	if p.PrivateKey != nil {
		k := *p.PrivateKey
		row.PrivateKey = &k
	}
	if p.PresharedKey != nil {
		k := *p.PresharedKey
		row.PresharedKey = &k
	}
	// The lists as their text reads back.
	row.AllowedIPs, _ = parsePrefixList(prefixList(p.AllowedIPs))
	row.ClientAllowedIPs, _ = parsePrefixList(prefixList(p.ClientAllowedIPs))
	return row
}

// pickAddr returns requested when it is usable in pool and not used, or
// the next free address of pool when requested is zero.
func pickAddr(pool netip.Prefix, requested netip.Addr, used []netip.Addr) (netip.Addr, error) {
	if !requested.IsValid() {
		return ipam.NextFree(pool, used)
	}
	if err := ipam.CheckUsable(pool, requested); err != nil {
		return netip.Addr{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, u := range used {
		if u == requested {
			return netip.Addr{}, fmt.Errorf("address %s is in use: %w", requested, ErrConflict)
		}
	}
	return requested, nil
}

// allocatedAddrs returns the addresses handed out on a node, by family.
func (tx *Tx) allocatedAddrs(ctx context.Context, nodeID int64) (v4, v6 []netip.Addr, err error) {
	rows, err := tx.tx.QueryContext(ctx, "SELECT ip FROM ip_allocations WHERE node_id = ?", nodeID)
	if err != nil {
		return nil, nil, fmt.Errorf("reading allocations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, nil, fmt.Errorf("reading allocations: %w", err)
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, nil, fmt.Errorf("reading allocations: %w", err)
		}
		if a.Is4() {
			v4 = append(v4, a)
		} else {
			v6 = append(v6, a)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("reading allocations: %w", err)
	}
	return v4, v6, nil
}

// writePeerKeys seals the peer's optional keys under its id.
func (tx *Tx) writePeerKeys(ctx context.Context, id int64, priv, psk *wgtypes.Key) error {
	privEnc, err := tx.sealKey(priv, peerPrivateKeyAAD(id))
	if err != nil {
		return fmt.Errorf("sealing private key: %w", err)
	}
	pskEnc, err := tx.sealKey(psk, peerPresharedKeyAAD(id))
	if err != nil {
		return fmt.Errorf("sealing preshared key: %w", err)
	}
	_, err = tx.tx.ExecContext(ctx, "UPDATE peers SET private_key_enc = ?, preshared_key_enc = ? WHERE id = ?", privEnc, pskEnc, id)
	return err
}

// GetPeer returns the peer with the given id, or ErrPeerNotFound.
func (tx *Tx) GetPeer(ctx context.Context, id int64) (Peer, error) {
	p, err := tx.scanPeer(tx.tx.QueryRowContext(ctx, "SELECT "+peerColumns+" FROM peers WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Peer{}, fmt.Errorf("peer %d: %w", id, ErrPeerNotFound)
	}
	if err != nil {
		return Peer{}, fmt.Errorf("reading peer %d: %w", id, err)
	}
	return p, nil
}

// GetPeerByPublicKey returns the peer with key on a node's interface, or
// ErrPeerNotFound.
func (tx *Tx) GetPeerByPublicKey(ctx context.Context, nodeID int64, iface string, key wgtypes.Key) (Peer, error) {
	p, err := tx.scanPeer(tx.tx.QueryRowContext(ctx,
		"SELECT "+peerColumns+" FROM peers WHERE node_id = ? AND iface = ? AND public_key = ?",
		nodeID, iface, key.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return Peer{}, fmt.Errorf("peer %s on node %d: %w", key, nodeID, ErrPeerNotFound)
	}
	if err != nil {
		return Peer{}, fmt.Errorf("reading peer %s on node %d: %w", key, nodeID, err)
	}
	return p, nil
}

// ListPeers returns the peers of one node in id order, or ErrNodeNotFound.
func (tx *Tx) ListPeers(ctx context.Context, nodeID int64) ([]Peer, error) {
	var exists bool
	if err := tx.tx.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM nodes WHERE id = ?)", nodeID).Scan(&exists); err != nil {
		return nil, fmt.Errorf("listing peers of node %d: %w", nodeID, err)
	}
	if !exists {
		return nil, fmt.Errorf("listing peers: node %d: %w", nodeID, ErrNodeNotFound)
	}
	return tx.listPeers(ctx, "WHERE node_id = ?", nodeID)
}

// ListAllPeers returns every peer of every node, by node and id.
func (tx *Tx) ListAllPeers(ctx context.Context) ([]Peer, error) {
	return tx.listPeers(ctx, "")
}

func (tx *Tx) listPeers(ctx context.Context, where string, args ...any) ([]Peer, error) {
	// Ordered here, not by ORDER BY: SQLite sorted the wide rows in a
	// sorter of its own, which doubled the cost of a node's 100 peers
	// (620 us against 330 us without), read by every reconcile.
	rows, err := tx.tx.QueryContext(ctx, "SELECT "+peerColumns+" FROM peers "+where, args...)
	if err != nil {
		return nil, fmt.Errorf("listing peers: %w", err)
	}
	defer rows.Close()
	peers := []Peer{}
	for rows.Next() {
		p, err := tx.scanPeer(rows)
		if err != nil {
			return nil, fmt.Errorf("listing peers: %w", err)
		}
		peers = append(peers, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("listing peers: %w", err)
	}
	slices.SortFunc(peers, func(a, b Peer) int {
		return cmp.Or(cmp.Compare(a.NodeID, b.NodeID), cmp.Compare(a.ID, b.ID))
	})
	return peers, nil
}

// CountPeers returns how many peers a node has (0 for an unknown node).
func (tx *Tx) CountPeers(ctx context.Context, nodeID int64) (int, error) {
	var n int
	if err := tx.tx.QueryRowContext(ctx, "SELECT count(*) FROM peers WHERE node_id = ?", nodeID).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting peers of node %d: %w", nodeID, err)
	}
	return n, nil
}

// UpdatePeer replaces the desired state of peer p.ID with p's: Name,
// PublicKey, PrivateKey, PresharedKey, ClientAllowedIPs, DNS, Keepalive,
// NodeKeepalive, Enabled, ExpiresAt, DataLimit and LimitAction. The node,
// interface, addresses and AllowedIPs of a peer never change; observed and
// sync fields and Restriction in p are ignored (SetPeerRestriction decides
// whether the new expiry or limit restricts the peer or lifts its
// restriction). The peer goes
// back to SyncPending and the node's desired generation is bumped.
func (tx *Tx) UpdatePeer(ctx context.Context, p Peer) (Peer, error) {
	old, err := tx.GetPeer(ctx, p.ID)
	if err != nil {
		return Peer{}, fmt.Errorf("updating peer: %w", err)
	}
	node, err := tx.GetNode(ctx, old.NodeID)
	if err != nil {
		return Peer{}, fmt.Errorf("updating peer %d: %w", p.ID, err)
	}
	p.NodeID, p.Iface = old.NodeID, old.Iface
	if err := normalizePeer(&p, node); err != nil {
		return Peer{}, fmt.Errorf("updating peer %d: %w", p.ID, err)
	}
	_, err = tx.tx.ExecContext(ctx, `UPDATE peers SET
		name = ?, public_key = ?, client_allowed_ips = ?, dns = ?, keepalive = ?, node_keepalive = ?, enabled = ?,
		expires_at = ?, data_limit_bytes = ?, limit_action = ?,
		sync_state = 'pending', sync_error = '', updated_at = ?
		WHERE id = ?`,
		p.Name, p.PublicKey.String(), prefixList(p.ClientAllowedIPs), p.DNS, int64(p.Keepalive/time.Second),
		int64(p.NodeKeepalive/time.Second),
		boolInt(p.Enabled), nullTime(p.ExpiresAt), p.DataLimit, string(p.LimitAction), tx.now.Unix(), p.ID)
	if isPeerNameClash(err) {
		return Peer{}, fmt.Errorf("updating peer %d: name %q on node %s: %w", p.ID, p.Name, node.Name, ErrPeerNameTaken)
	}
	if isUnique(err) {
		return Peer{}, fmt.Errorf("updating peer %d: public key %s is already on interface %s: %w", p.ID, p.PublicKey, p.Iface, ErrConflict)
	}
	if err != nil {
		return Peer{}, fmt.Errorf("updating peer %d: %w", p.ID, err)
	}
	if err := tx.writePeerKeys(ctx, p.ID, p.PrivateKey, p.PresharedKey); err != nil {
		return Peer{}, fmt.Errorf("updating peer %d: %w", p.ID, err)
	}
	if _, err := tx.BumpGeneration(ctx, p.NodeID); err != nil {
		return Peer{}, fmt.Errorf("updating peer %d: %w", p.ID, err)
	}
	return tx.GetPeer(ctx, p.ID)
}

// SetPeerEnabled enables or restricts a peer. A change puts the peer back
// in SyncPending and bumps the node's desired generation; setting the
// current value changes nothing.
func (tx *Tx) SetPeerEnabled(ctx context.Context, id int64, enabled bool) error {
	p, err := tx.GetPeer(ctx, id)
	if err != nil {
		return fmt.Errorf("setting peer enabled: %w", err)
	}
	if p.Enabled == enabled {
		return nil
	}
	_, err = tx.tx.ExecContext(ctx, `UPDATE peers SET enabled = ?, sync_state = 'pending', sync_error = '', updated_at = ?
		WHERE id = ?`, boolInt(enabled), tx.now.Unix(), id)
	if err != nil {
		return fmt.Errorf("setting peer %d enabled: %w", id, err)
	}
	if _, err := tx.BumpGeneration(ctx, p.NodeID); err != nil {
		return fmt.Errorf("setting peer %d enabled: %w", id, err)
	}
	return nil
}

// DeletePeer deletes a peer, frees its addresses, bumps its node's desired
// generation, and returns the peer as it was so the caller can remove it
// from the node.
func (tx *Tx) DeletePeer(ctx context.Context, id int64) (Peer, error) {
	p, err := tx.GetPeer(ctx, id)
	if err != nil {
		return Peer{}, fmt.Errorf("deleting peer: %w", err)
	}
	// ip_allocations rows go with the peer (ON DELETE CASCADE).
	if _, err := tx.tx.ExecContext(ctx, "DELETE FROM peers WHERE id = ?", id); err != nil {
		return Peer{}, fmt.Errorf("deleting peer %d: %w", id, err)
	}
	if _, err := tx.BumpGeneration(ctx, p.NodeID); err != nil {
		return Peer{}, fmt.Errorf("deleting peer %d: %w", id, err)
	}
	return p, nil
}

// SetPeerSyncState records whether the peer's desired state reached its
// node. errMsg is kept only with SyncError.
func (tx *Tx) SetPeerSyncState(ctx context.Context, id int64, state SyncState, errMsg string) error {
	if !state.valid() {
		return fmt.Errorf("setting peer %d sync state: %w", id, invalidf("state %q", state))
	}
	if state != SyncError {
		errMsg = ""
	}
	res, err := tx.tx.ExecContext(ctx, "UPDATE peers SET sync_state = ?, sync_error = ? WHERE id = ?", state, errMsg, id)
	if err != nil {
		return fmt.Errorf("setting peer %d sync state: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("peer %d: %w", id, ErrPeerNotFound))
}

// RecordPeerStats stores one observation of a peer's handshake time (zero
// for none) and transfer counters. The totals grow by the difference to
// the last observation; when a counter went down, the device was reset
// and the whole new value is added instead. Totals never decrease. It
// returns the new totals: what they grew by is the traffic since the last
// observation (the poller records it as traffic history).
func (tx *Tx) RecordPeerStats(ctx context.Context, id int64, handshake time.Time, rx, txBytes int64) (rxTotal, txTotal int64, err error) {
	if rx < 0 || txBytes < 0 {
		return 0, 0, fmt.Errorf("recording peer %d stats: %w", id, invalidf("negative counters rx=%d tx=%d", rx, txBytes))
	}
	// In an UPDATE every right-hand side sees the row as it was before.
	err = tx.tx.QueryRowContext(ctx, `UPDATE peers SET
		rx_total = rx_total + CASE WHEN ?1 < rx_bytes THEN ?1 ELSE ?1 - rx_bytes END,
		tx_total = tx_total + CASE WHEN ?2 < tx_bytes THEN ?2 ELSE ?2 - tx_bytes END,
		rx_bytes = ?1, tx_bytes = ?2, last_handshake = ?3
		WHERE id = ?4 RETURNING rx_total, tx_total`, rx, txBytes, nullTime(handshake), id).Scan(&rxTotal, &txTotal)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("peer %d: %w", id, ErrPeerNotFound)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("recording peer %d stats: %w", id, err)
	}
	return rxTotal, txTotal, nil
}
