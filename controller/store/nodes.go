package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/wgrules"
)

// NodeStatus is what the controller last learned about a node.
type NodeStatus string

const (
	NodeUnknown  NodeStatus = "unknown"  // not polled yet, or just re-enabled
	NodeOnline   NodeStatus = "online"   // the last poll succeeded
	NodeOffline  NodeStatus = "offline"  // the agent could not be reached
	NodeError    NodeStatus = "error"    // the agent answered with an error
	NodeDisabled NodeStatus = "disabled" // the node is disabled; it is not polled
)

func (s NodeStatus) valid() bool {
	switch s {
	case NodeUnknown, NodeOnline, NodeOffline, NodeError, NodeDisabled:
		return true
	}
	return false
}

// DriftPolicy says what the controller does when a node's observed state
// differs from its desired state.
type DriftPolicy string

const (
	DriftRepair DriftPolicy = "repair" // push the desired state again
	DriftReport DriftPolicy = "report" // only record and report the drift
)

// AuthType is how the controller authenticates to a node's agent.
type AuthType string

// AuthHMAC signs every request with the node's shared secret.
const AuthHMAC AuthType = "hmac"

// Defaults a caller building a new Node usually wants.
const (
	DefaultWGInterface = "wg0"
	DefaultWeight      = 100
)

// Node is one machine running wg-agent.
type Node struct {
	ID       int64
	Name     string // unique, case-insensitive
	AgentURL string // base URL of the agent API, http or https
	// AuthType is "" or AuthHMAC on create ("" means AuthHMAC).
	AuthType AuthType
	// Secret is the agent's HMAC secret in plaintext. It is sealed at rest
	// and must never be logged or returned by an API.
	Secret []byte
	// PrevSecret is, during a secret rotation that has not finished, the
	// secret the agent accepted before it (sealed at rest like Secret);
	// nil otherwise. Requests are signed with Secret and, when the agent
	// refuses that, with PrevSecret. Only SetNodeSecrets writes it;
	// UpdateNode with another Secret clears it.
	PrevSecret []byte
	// SecretVersion grows with every change of Secret or PrevSecret: of
	// two copies of a node, the one with the higher version has the
	// newer secrets.
	SecretVersion int64
	WGInterface   string       // "" means DefaultWGInterface on create
	Endpoint      string       // host:port clients dial; "" when not set yet
	IPPool        netip.Prefix // IPv4 pool of peer addresses, masked, at least a /30
	IPPool6       netip.Prefix // IPv6 pool, masked; zero when the node has none
	DNS           string       // DNS for client configs, as wg-quick takes it; "" for none
	// Enabled is taken as given: the zero value creates a disabled node.
	Enabled  bool
	Weight   int // placement weight, >= 0; see DefaultWeight
	MaxPeers int // 0 means unlimited
	// DriftPolicy is "" or a DriftPolicy on create ("" means DriftRepair).
	DriftPolicy DriftPolicy
	// TLSFingerprint is the pinned SHA-256 of the agent's certificate: the
	// controller accepts no other certificate from an https AgentURL. Zero
	// means nothing is pinned (plain http, or https verified against the
	// system's certificate authorities). A pin needs an https AgentURL.
	TLSFingerprint agentapi.Fingerprint
	// Labels are the node's labels (see package labels), checked with
	// labels.Check; nil or empty means none. Reads give nil for none.
	// UpdateNode replaces them with n's.
	Labels labels.Set

	// Observed state, written by RecordNodeHealth, never by UpdateNode.
	Status     NodeStatus
	LastSeen   time.Time       // last successful contact; zero if never
	HealthJSON json.RawMessage // last health document; nil if none
	// ServerPublicKey is the public key of the node's interface
	// (WGInterface) as the agent last reported it; zero when not known.
	// UpdateNode forgets it when WGInterface changes.
	ServerPublicKey wgtypes.Key
	// AgentVersion is the version the node's agent last reported in its
	// health document (at most 64 characters); "" when not known.
	AgentVersion        string
	ConsecutiveFailures int
	LastError           string

	// Generations (see BumpGeneration and SetAckedGeneration).
	DesiredGeneration int64
	AckedGeneration   int64
	AckedAt           time.Time // zero if never acknowledged

	// Drift (see RecordDrift and SetCurrentDrift). DriftCount counts each
	// new set of out-of-band differences ever seen and only grows;
	// DriftCurrent is the number of out-of-band differences the agent
	// still had after the last comparison, made at DriftCheckedAt (zero if
	// never compared).
	DriftCount     int64
	DriftCurrent   int
	DriftCheckedAt time.Time

	// APIPaths is where the agent serves the seed endpoints, as the
	// controller found out (see SetNodeAPIPaths): "" (not yet), "bare" or
	// "v1". A new agent URL resets it to "".
	APIPaths string

	CreatedAt time.Time
	UpdatedAt time.Time
}

const nodeColumns = `id, name, agent_url, auth_type, secret_enc, wg_interface, endpoint,
	ip_pool_cidr, ip_pool6_cidr, dns, enabled, weight, max_peers, drift_policy,
	status, last_seen, health_json, server_public_key, agent_version, consecutive_failures, last_error,
	desired_generation, acked_generation, acked_at, drift_count, drift_current, drift_checked_at,
	api_paths, tls_fingerprint, created_at, updated_at, secret_prev_enc, secret_version`

func (tx *Tx) scanNode(sc scanner) (Node, error) {
	var (
		n                   Node
		secretEnc, pool4    string
		pool6, health       sql.NullString
		serverKey, agentVer sql.NullString
		lastSeen, ackedAt   sql.NullInt64
		driftCheckedAt      sql.NullInt64
		prevEnc             sql.NullString
		createdAt, updateAt int64
		tlsFingerprint      string
	)
	err := sc.Scan(&n.ID, &n.Name, &n.AgentURL, &n.AuthType, &secretEnc, &n.WGInterface, &n.Endpoint,
		&pool4, &pool6, &n.DNS, &n.Enabled, &n.Weight, &n.MaxPeers, &n.DriftPolicy,
		&n.Status, &lastSeen, &health, &serverKey, &agentVer, &n.ConsecutiveFailures, &n.LastError,
		&n.DesiredGeneration, &n.AckedGeneration, &ackedAt, &n.DriftCount, &n.DriftCurrent, &driftCheckedAt,
		&n.APIPaths, &tlsFingerprint, &createdAt, &updateAt, &prevEnc, &n.SecretVersion)
	if err != nil {
		return Node{}, err
	}
	if n.IPPool, err = netip.ParsePrefix(pool4); err != nil {
		return Node{}, fmt.Errorf("node %d: ip_pool_cidr: %w", n.ID, err)
	}
	if n.IPPool6, err = parseNullPrefix(pool6); err != nil {
		return Node{}, fmt.Errorf("node %d: ip_pool6_cidr: %w", n.ID, err)
	}
	if n.Secret, err = tx.box.Open(secretEnc, nodeSecretAAD(n.ID)); err != nil {
		return Node{}, fmt.Errorf("node %d: opening secret: %w", n.ID, err)
	}
	if prevEnc.Valid {
		if n.PrevSecret, err = tx.box.Open(prevEnc.String, nodePrevSecretAAD(n.ID)); err != nil {
			return Node{}, fmt.Errorf("node %d: opening previous secret: %w", n.ID, err)
		}
	}
	if health.Valid {
		n.HealthJSON = json.RawMessage(health.String)
	}
	n.AgentVersion = agentVer.String
	if n.TLSFingerprint, err = agentapi.ParseFingerprint(tlsFingerprint); err != nil {
		return Node{}, fmt.Errorf("node %d: tls_fingerprint: %w", n.ID, err)
	}
	if serverKey.Valid {
		if n.ServerPublicKey, err = agentapi.ParseKey(serverKey.String); err != nil {
			return Node{}, fmt.Errorf("node %d: server_public_key: %w", n.ID, err)
		}
	}
	n.LastSeen = fromNullTime(lastSeen)
	n.AckedAt = fromNullTime(ackedAt)
	n.DriftCheckedAt = fromNullTime(driftCheckedAt)
	n.CreatedAt = unixTime(createdAt)
	n.UpdatedAt = unixTime(updateAt)
	return n, nil
}

// normalizeNode fills the documented defaults and checks what the store
// relies on. Errors wrap ErrInvalid.
func normalizeNode(n *Node) error {
	n.Name = strings.TrimSpace(n.Name)
	if n.Name == "" {
		return invalidf("node name is empty")
	}
	if n.AuthType == "" {
		n.AuthType = AuthHMAC
	}
	if n.AuthType != AuthHMAC {
		return invalidf("node auth type %q is not %q", n.AuthType, AuthHMAC)
	}
	if len(n.Secret) == 0 {
		return invalidf("node secret is empty")
	}
	u, err := url.Parse(n.AgentURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalidf("node agent URL %q is not an http(s) URL", n.AgentURL)
	}
	if !n.TLSFingerprint.IsZero() && u.Scheme != "https" {
		return invalidf("node TLS fingerprint needs an https agent URL, not %q", n.AgentURL)
	}
	if n.WGInterface == "" {
		n.WGInterface = DefaultWGInterface
	}
	if err := wgrules.CheckInterfaceName(n.WGInterface); err != nil {
		return invalidf("node %v", err)
	}
	if n.Endpoint != "" {
		host, port, err := net.SplitHostPort(n.Endpoint)
		if p, perr := strconv.ParseUint(port, 10, 16); err != nil || host == "" || perr != nil || p == 0 {
			return invalidf("node endpoint %q is not host:port", n.Endpoint)
		}
	}
	if err := ipam.ValidatePool4(n.IPPool); err != nil {
		return invalidf("node IPv4 pool: %v", err)
	}
	if n.IPPool6.IsValid() {
		if err := ipam.ValidatePool6(n.IPPool6); err != nil {
			return invalidf("node IPv6 pool: %v", err)
		}
	}
	if n.Weight < 0 {
		return invalidf("node weight %d is negative", n.Weight)
	}
	if n.MaxPeers < 0 {
		return invalidf("node max peers %d is negative", n.MaxPeers)
	}
	if n.DriftPolicy == "" {
		n.DriftPolicy = DriftRepair
	}
	if n.DriftPolicy != DriftRepair && n.DriftPolicy != DriftReport {
		return invalidf("node drift policy %q is not %q or %q", n.DriftPolicy, DriftRepair, DriftReport)
	}
	if err := labels.Check(n.Labels); err != nil {
		return invalidf("node %v", err)
	}
	return nil
}

// statusFor is the status a node gets when it is created or its Enabled
// flag changes.
func statusFor(enabled bool) NodeStatus {
	if enabled {
		return NodeUnknown
	}
	return NodeDisabled
}

// CreateNode inserts n and returns it as stored. n.ID and the observed and
// generation fields are ignored. Empty AuthType, WGInterface and
// DriftPolicy take their defaults; Enabled, Weight and MaxPeers are taken
// as given. A duplicate name gives ErrConflict, a bad value ErrInvalid.
func (tx *Tx) CreateNode(ctx context.Context, n Node) (Node, error) {
	if err := normalizeNode(&n); err != nil {
		return Node{}, fmt.Errorf("creating node: %w", err)
	}
	var id int64
	err := tx.tx.QueryRowContext(ctx, `INSERT INTO nodes
		(name, agent_url, auth_type, secret_enc, wg_interface, endpoint, ip_pool_cidr, ip_pool6_cidr,
		 dns, enabled, weight, max_peers, drift_policy, tls_fingerprint, status, created_at, updated_at)
		VALUES (?, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		n.Name, n.AgentURL, n.AuthType, n.WGInterface, n.Endpoint, n.IPPool.String(), nullPrefix(n.IPPool6),
		n.DNS, boolInt(n.Enabled), n.Weight, n.MaxPeers, n.DriftPolicy, n.TLSFingerprint.String(),
		statusFor(n.Enabled), tx.now.Unix(), tx.now.Unix()).Scan(&id)
	if isUnique(err) {
		return Node{}, fmt.Errorf("creating node: name %q: %w", n.Name, ErrConflict)
	}
	if err != nil {
		return Node{}, fmt.Errorf("creating node %q: %w", n.Name, err)
	}
	// The secret is sealed once the row has its id, which the aad names.
	if err := tx.writeNodeSecret(ctx, id, n.Secret); err != nil {
		return Node{}, fmt.Errorf("creating node %q: %w", n.Name, err)
	}
	if err := tx.writeNodeLabels(ctx, id, n.Labels); err != nil {
		return Node{}, fmt.Errorf("creating node %q: %w", n.Name, err)
	}
	return tx.GetNode(ctx, id)
}

func (tx *Tx) writeNodeSecret(ctx context.Context, id int64, secret []byte) error {
	sealed, err := tx.box.Seal(secret, nodeSecretAAD(id))
	if err != nil {
		return fmt.Errorf("sealing secret: %w", err)
	}
	_, err = tx.tx.ExecContext(ctx, "UPDATE nodes SET secret_enc = ? WHERE id = ?", sealed, id)
	return err
}

// GetNode returns the node with the given id, or ErrNodeNotFound.
func (tx *Tx) GetNode(ctx context.Context, id int64) (Node, error) {
	n, err := tx.scanNode(tx.tx.QueryRowContext(ctx, "SELECT "+nodeColumns+" FROM nodes WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Node{}, fmt.Errorf("node %d: %w", id, ErrNodeNotFound)
	}
	if err == nil {
		n.Labels, err = tx.nodeLabels(ctx, id)
	}
	if err != nil {
		return Node{}, fmt.Errorf("reading node %d: %w", id, err)
	}
	return n, nil
}

// GetNodeByName returns the node with the given name, compared without
// regard to case, or ErrNodeNotFound.
func (tx *Tx) GetNodeByName(ctx context.Context, name string) (Node, error) {
	n, err := tx.scanNode(tx.tx.QueryRowContext(ctx, "SELECT "+nodeColumns+" FROM nodes WHERE name = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return Node{}, fmt.Errorf("node %q: %w", name, ErrNodeNotFound)
	}
	if err == nil {
		n.Labels, err = tx.nodeLabels(ctx, n.ID)
	}
	if err != nil {
		return Node{}, fmt.Errorf("reading node %q: %w", name, err)
	}
	return n, nil
}

// ListNodes returns every node in id order; an empty store gives an empty
// slice.
func (tx *Tx) ListNodes(ctx context.Context) ([]Node, error) {
	return tx.queryNodes(ctx, "listing nodes", "SELECT "+nodeColumns+" FROM nodes ORDER BY id")
}

// NodesWithServerKey returns the nodes whose interface reported public
// key k, by id; none is an empty list. It decrypts only those rows, so
// checking a key costs little at any fleet size.
func (tx *Tx) NodesWithServerKey(ctx context.Context, k wgtypes.Key) ([]Node, error) {
	// The ids first, then the nodes: this runs inside every peer creation
	// and usually matches none, and on SQLite a statement of every node
	// column cost 100-230 us even when no row matched, the ids alone 5 us.
	rows, err := tx.tx.QueryContext(ctx, "SELECT id FROM nodes WHERE server_public_key = ?", k.String())
	if err != nil {
		return nil, fmt.Errorf("finding nodes by server key: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("finding nodes by server key: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("finding nodes by server key: %w", err)
	}
	nodes := []Node{}
	if len(ids) == 0 {
		return nodes, nil
	}
	slices.Sort(ids)
	for _, id := range ids {
		n, err := tx.GetNode(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("finding nodes by server key: %w", err)
		}
		nodes = append(nodes, n)
	}
	return nodes, nil
}

// queryNodes runs a query of nodeColumns and scans every row; what names
// it in errors.
func (tx *Tx) queryNodes(ctx context.Context, what, query string, args ...any) ([]Node, error) {
	rows, err := tx.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	nodes := []Node{}
	for rows.Next() {
		n, err := tx.scanNode(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		nodes = append(nodes, n)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.loadNodeLabels(ctx, nodes); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return nodes, nil
}

// UpdateNode replaces the configuration of node n.ID with n's: Name,
// AgentURL, AuthType, Secret, WGInterface, Endpoint, IPPool, IPPool6, DNS,
// Enabled, Weight, MaxPeers, DriftPolicy, TLSFingerprint and Labels. Observed state, generations
// and timestamps in n are ignored. Changing Enabled resets Status as
// SetNodeEnabled does.
//
// While the node has peers, its interface may not change and a new pool
// must still hold every address already handed out; otherwise the error
// wraps ErrNodeHasPeers.
func (tx *Tx) UpdateNode(ctx context.Context, n Node) (Node, error) {
	old, err := tx.GetNode(ctx, n.ID)
	if err != nil {
		return Node{}, fmt.Errorf("updating node: %w", err)
	}
	if err := normalizeNode(&n); err != nil {
		return Node{}, fmt.Errorf("updating node %d: %w", n.ID, err)
	}
	if n.WGInterface != old.WGInterface || n.IPPool != old.IPPool || n.IPPool6 != old.IPPool6 {
		if err := tx.checkNodeReshape(ctx, old, n); err != nil {
			return Node{}, fmt.Errorf("updating node %d: %w", n.ID, err)
		}
	}
	status := old.Status
	if n.Enabled != old.Enabled {
		status = statusFor(n.Enabled)
	}
	paths := old.APIPaths
	if n.AgentURL != old.AgentURL {
		paths = "" // another agent, maybe of another family
	}
	_, err = tx.tx.ExecContext(ctx, `UPDATE nodes SET
		name = ?, agent_url = ?, auth_type = ?, wg_interface = ?, endpoint = ?, ip_pool_cidr = ?,
		ip_pool6_cidr = ?, dns = ?, enabled = ?, weight = ?, max_peers = ?, drift_policy = ?,
		tls_fingerprint = ?, status = ?, api_paths = ?, updated_at = ?,
		server_public_key = CASE WHEN wg_interface = ? THEN server_public_key END
		WHERE id = ?`,
		n.Name, n.AgentURL, n.AuthType, n.WGInterface, n.Endpoint, n.IPPool.String(),
		nullPrefix(n.IPPool6), n.DNS, boolInt(n.Enabled), n.Weight, n.MaxPeers, n.DriftPolicy,
		n.TLSFingerprint.String(), status, paths, tx.now.Unix(), n.WGInterface, n.ID)
	if isUnique(err) {
		return Node{}, fmt.Errorf("updating node %d: name %q: %w", n.ID, n.Name, ErrConflict)
	}
	if err != nil {
		return Node{}, fmt.Errorf("updating node %d: %w", n.ID, err)
	}
	if err := tx.writeNodeSecret(ctx, n.ID, n.Secret); err != nil {
		return Node{}, fmt.Errorf("updating node %d: %w", n.ID, err)
	}
	if !n.Labels.Equal(old.Labels) {
		if err := tx.writeNodeLabels(ctx, n.ID, n.Labels); err != nil {
			return Node{}, fmt.Errorf("updating node %d: %w", n.ID, err)
		}
	}
	if !bytes.Equal(n.Secret, old.Secret) {
		// A secret given by hand ends any rotation in progress.
		if _, err := tx.tx.ExecContext(ctx, "UPDATE nodes SET secret_prev_enc = NULL, secret_version = secret_version + 1 WHERE id = ?", n.ID); err != nil {
			return Node{}, fmt.Errorf("updating node %d: %w", n.ID, err)
		}
	}
	return tx.GetNode(ctx, n.ID)
}

// SetNodeSecrets records a step of a secret rotation: secret becomes the
// node's secret and prev its previous one (nil: none, the rotation is
// over), both sealed, and SecretVersion grows. An empty secret is
// ErrInvalid. Nothing else of the node changes, updated_at included.
func (tx *Tx) SetNodeSecrets(ctx context.Context, id int64, secret, prev []byte) error {
	if len(secret) == 0 {
		return fmt.Errorf("setting secrets of node %d: %w", id, invalidf("node secret is empty"))
	}
	sealed, err := tx.box.Seal(secret, nodeSecretAAD(id))
	if err != nil {
		return fmt.Errorf("setting secrets of node %d: sealing secret: %w", id, err)
	}
	var prevSealed sql.NullString
	if prev != nil {
		if prevSealed.String, err = tx.box.Seal(prev, nodePrevSecretAAD(id)); err != nil {
			return fmt.Errorf("setting secrets of node %d: sealing previous secret: %w", id, err)
		}
		prevSealed.Valid = true
	}
	res, err := tx.tx.ExecContext(ctx, "UPDATE nodes SET secret_enc = ?, secret_prev_enc = ?, secret_version = secret_version + 1 WHERE id = ?", sealed, prevSealed, id)
	if err != nil {
		return fmt.Errorf("setting secrets of node %d: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("node %d: %w", id, ErrNodeNotFound))
}

// checkNodeReshape refuses an interface or pool change that would strand
// the node's existing peers.
func (tx *Tx) checkNodeReshape(ctx context.Context, old, n Node) error {
	count, err := tx.CountPeers(ctx, n.ID)
	if err != nil || count == 0 {
		return err
	}
	if n.WGInterface != old.WGInterface {
		return fmt.Errorf("%w: cannot rename interface %s of a node with %d peers", ErrNodeHasPeers, old.WGInterface, count)
	}
	used4, used6, err := tx.allocatedAddrs(ctx, n.ID)
	if err != nil {
		return err
	}
	for _, a := range used4 {
		if err := ipam.CheckUsable(n.IPPool, a); err != nil {
			return fmt.Errorf("%w: new IPv4 pool %s does not hold peer address %s", ErrNodeHasPeers, n.IPPool, a)
		}
	}
	for _, a := range used6 {
		if !n.IPPool6.IsValid() {
			return fmt.Errorf("%w: cannot remove the IPv6 pool while peers have IPv6 addresses", ErrNodeHasPeers)
		}
		if err := ipam.CheckUsable(n.IPPool6, a); err != nil {
			return fmt.Errorf("%w: new IPv6 pool %s does not hold peer address %s", ErrNodeHasPeers, n.IPPool6, a)
		}
	}
	return nil
}

// DeleteNode deletes a node. Without force a node that still has peers is
// refused with ErrNodeHasPeers; with force its peers and their address
// allocations are deleted with it.
func (tx *Tx) DeleteNode(ctx context.Context, id int64, force bool) error {
	if force {
		if _, err := tx.tx.ExecContext(ctx, "DELETE FROM peers WHERE node_id = ?", id); err != nil {
			return fmt.Errorf("deleting peers of node %d: %w", id, err)
		}
	} else {
		// The foreign key (ON DELETE RESTRICT) would refuse too; counting
		// first gives a clear error.
		n, err := tx.CountPeers(ctx, id)
		if err != nil {
			return fmt.Errorf("deleting node %d: %w", id, err)
		}
		if n > 0 {
			return fmt.Errorf("deleting node %d: %w (%d)", id, ErrNodeHasPeers, n)
		}
	}
	res, err := tx.tx.ExecContext(ctx, "DELETE FROM nodes WHERE id = ?", id)
	if err != nil {
		return fmt.Errorf("deleting node %d: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("node %d: %w", id, ErrNodeNotFound))
}

// SetNodeEnabled enables or disables a node. A disabled node gets status
// "disabled"; enabling one resets it to "unknown" until the next poll.
// Setting the current value changes nothing.
func (tx *Tx) SetNodeEnabled(ctx context.Context, id int64, enabled bool) error {
	res, err := tx.tx.ExecContext(ctx, `UPDATE nodes SET
		status = CASE WHEN enabled = ?1 THEN status ELSE ?2 END,
		updated_at = CASE WHEN enabled = ?1 THEN updated_at ELSE ?3 END,
		enabled = ?1
		WHERE id = ?4`, boolInt(enabled), statusFor(enabled), tx.now.Unix(), id)
	if err != nil {
		return fmt.Errorf("setting node %d enabled: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("node %d: %w", id, ErrNodeNotFound))
}

// RecordNodeHealth stores the outcome of one poll of a node. On success
// last_seen becomes now, consecutive_failures 0 and last_error empty; on
// failure consecutive_failures grows by one and last_error is errMsg.
// healthJSON, when not nil, replaces the stored health document and must
// be valid JSON, serverKey replaces ServerPublicKey (zero: the document
// does not tell it) and the document's "version" replaces AgentVersion;
// when healthJSON is nil all three stay. A disabled node keeps status
// "disabled".
func (tx *Tx) RecordNodeHealth(ctx context.Context, id int64, status NodeStatus, healthJSON []byte, serverKey wgtypes.Key, errMsg string, success bool) error {
	if !status.valid() {
		return fmt.Errorf("recording node %d health: %w", id, invalidf("status %q", status))
	}
	if healthJSON != nil && !json.Valid(healthJSON) {
		return fmt.Errorf("recording node %d health: %w", id, invalidf("health document is not JSON"))
	}
	var health, key, agentVer sql.NullString
	if healthJSON != nil {
		health = sql.NullString{String: string(healthJSON), Valid: true}
		agentVer = agentVersionOf(healthJSON)
		if serverKey != (wgtypes.Key{}) {
			key = sql.NullString{String: serverKey.String(), Valid: true}
		}
	}
	res, err := tx.tx.ExecContext(ctx, `UPDATE nodes SET
		status = CASE WHEN enabled <> 0 THEN ?1 ELSE 'disabled' END,
		health_json = coalesce(?2, health_json),
		server_public_key = CASE WHEN ?2 IS NULL THEN server_public_key ELSE ?6 END,
		agent_version = CASE WHEN ?2 IS NULL THEN agent_version ELSE ?7 END,
		last_seen = CASE WHEN ?8 <> 0 THEN ?3 ELSE last_seen END,
		consecutive_failures = CASE WHEN ?8 <> 0 THEN 0 ELSE consecutive_failures + 1 END,
		last_error = CASE WHEN ?8 <> 0 THEN '' ELSE ?4 END
		WHERE id = ?5`, status, health, tx.now.Unix(), errMsg, id, key, agentVer, boolInt(success))
	if err != nil {
		return fmt.Errorf("recording node %d health: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("node %d: %w", id, ErrNodeNotFound))
}

// maxAgentVersion is the longest agent version kept, in characters.
const maxAgentVersion = 64

// agentVersionOf is the "version" string of the health document doc, cut
// to maxAgentVersion characters; not valid when it has none (migration
// 0007 reads it the same way).
func agentVersionOf(doc []byte) sql.NullString {
	var h struct {
		Version any `json:"version"`
	}
	if json.Unmarshal(doc, &h) != nil {
		return sql.NullString{}
	}
	v, ok := h.Version.(string)
	if !ok || v == "" {
		return sql.NullString{}
	}
	if r := []rune(v); len(r) > maxAgentVersion {
		v = string(r[:maxAgentVersion])
	}
	return sql.NullString{String: v, Valid: true}
}

// BumpGeneration increments the node's desired generation and returns the
// new value. Peer changes bump it themselves, in the same transaction.
func (tx *Tx) BumpGeneration(ctx context.Context, id int64) (int64, error) {
	var gen int64
	err := tx.tx.QueryRowContext(ctx,
		"UPDATE nodes SET desired_generation = desired_generation + 1 WHERE id = ? RETURNING desired_generation", id).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("node %d: %w", id, ErrNodeNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("bumping generation of node %d: %w", id, err)
	}
	return gen, nil
}

// NodeGenerations returns the node's desired and acknowledged
// generations, without reading (and opening) the rest of the node.
func (tx *Tx) NodeGenerations(ctx context.Context, id int64) (desired, acked int64, err error) {
	err = tx.tx.QueryRowContext(ctx, "SELECT desired_generation, acked_generation FROM nodes WHERE id = ?", id).Scan(&desired, &acked)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, fmt.Errorf("node %d: %w", id, ErrNodeNotFound)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("reading generations of node %d: %w", id, err)
	}
	return desired, acked, nil
}

// SetAckedGeneration records that the node's agent has applied generation
// gen, stamping acked_at with now. An acknowledgement never moves
// backwards: one at or below the current acked generation changes
// nothing. A gen above the desired generation is ErrInvalid.
func (tx *Tx) SetAckedGeneration(ctx context.Context, id, gen int64) error {
	var desired, acked int64
	err := tx.tx.QueryRowContext(ctx, "SELECT desired_generation, acked_generation FROM nodes WHERE id = ?", id).Scan(&desired, &acked)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("node %d: %w", id, ErrNodeNotFound)
	}
	if err != nil {
		return fmt.Errorf("acknowledging generation of node %d: %w", id, err)
	}
	if gen > desired {
		return fmt.Errorf("acknowledging generation of node %d: %w", id, invalidf("generation %d is above desired %d", gen, desired))
	}
	if gen <= acked {
		return nil
	}
	_, err = tx.tx.ExecContext(ctx, "UPDATE nodes SET acked_generation = ?, acked_at = ? WHERE id = ?", gen, tx.now.Unix(), id)
	if err != nil {
		return fmt.Errorf("acknowledging generation of node %d: %w", id, err)
	}
	return nil
}

// RecordDrift counts one detected drift on the node and returns the new
// count.
func (tx *Tx) RecordDrift(ctx context.Context, id int64) (int64, error) {
	var n int64
	err := tx.tx.QueryRowContext(ctx,
		"UPDATE nodes SET drift_count = drift_count + 1 WHERE id = ? RETURNING drift_count", id).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("node %d: %w", id, ErrNodeNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("recording drift of node %d: %w", id, err)
	}
	return n, nil
}

// SetCurrentDrift records that the node's agent had n out-of-band
// differences from the database after a comparison made now: it sets
// drift_current to n and drift_checked_at to now. Unlike RecordDrift it
// counts nothing; 0 says the agent matched. A negative n is ErrInvalid.
func (tx *Tx) SetCurrentDrift(ctx context.Context, id int64, n int) error {
	if n < 0 {
		return fmt.Errorf("recording current drift of node %d: %w", id, invalidf("%d differences", n))
	}
	res, err := tx.tx.ExecContext(ctx, "UPDATE nodes SET drift_current = ?, drift_checked_at = ? WHERE id = ?", n, tx.now.Unix(), id)
	if err != nil {
		return fmt.Errorf("recording current drift of node %d: %w", id, err)
	}
	return requireRow(res, fmt.Errorf("node %d: %w", id, ErrNodeNotFound))
}

// SetNodeAPIPaths records where the node's agent serves the seed
// endpoints, as found out by talking to it at agentURL: "", "bare" or
// "v1" (anything else is ErrInvalid). It changes nothing when the node's
// agent URL is no longer agentURL (the finding is about the old agent).
func (tx *Tx) SetNodeAPIPaths(ctx context.Context, id int64, agentURL, paths string) error {
	if paths != "" && paths != "bare" && paths != "v1" {
		return fmt.Errorf("recording api paths of node %d: %w", id, invalidf("path family %q", paths))
	}
	_, err := tx.tx.ExecContext(ctx, "UPDATE nodes SET api_paths = ? WHERE id = ? AND agent_url = ?", paths, id, agentURL)
	if err != nil {
		return fmt.Errorf("recording api paths of node %d: %w", id, err)
	}
	return nil
}

// SetNodeTLSFingerprint pins fp as the certificate of the agent at
// agentURL, the node's agent URL, which must be https (else ErrInvalid);
// the zero fp unpins. When the node's agent URL is no longer agentURL
// (the node was edited meanwhile) it changes nothing and returns
// ErrConflict, so a pin learned from one agent never lands on another.
func (tx *Tx) SetNodeTLSFingerprint(ctx context.Context, id int64, agentURL string, fp agentapi.Fingerprint) error {
	if u, err := url.Parse(agentURL); !fp.IsZero() && (err != nil || u.Scheme != "https") {
		return fmt.Errorf("pinning node %d: %w", id, invalidf("TLS fingerprint needs an https agent URL, not %q", agentURL))
	}
	res, err := tx.tx.ExecContext(ctx, "UPDATE nodes SET tls_fingerprint = ?, updated_at = ? WHERE id = ? AND agent_url = ?",
		fp.String(), tx.now.Unix(), id, agentURL)
	if err != nil {
		return fmt.Errorf("pinning node %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil || n > 0 {
		return err
	}
	if _, err := tx.GetNode(ctx, id); err != nil {
		return fmt.Errorf("pinning node %d: %w", id, err)
	}
	return fmt.Errorf("pinning node %d: its agent URL is no longer %q: %w", id, agentURL, ErrConflict)
}

// requireRow returns notFound when an UPDATE or DELETE touched no row.
func requireRow(res sql.Result, notFound error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}
