package fleet

import (
	"encoding/json"
	"time"

	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// Actor is who makes a change, for the audit log: "user:NAME",
// "token:NAME" or "system".
type Actor string

// ActorSystem is the controller itself (poller, reconciler, demo).
const ActorSystem Actor = "system"

// NodeInput is the body of POST /api/nodes and PUT /api/nodes/{id}. A nil
// field is "not given": defaulted on create, unchanged on update.
type NodeInput struct {
	Name        *string `json:"name"`
	AgentURL    *string `json:"agent_url"`
	AuthType    *string `json:"auth_type"`
	Secret      *string `json:"secret"`
	WGInterface *string `json:"wg_interface"`
	Endpoint    *string `json:"endpoint"`
	IPPool      *string `json:"ip_pool_cidr"`
	IPPool6     *string `json:"ip_pool6_cidr"`
	DNS         *string `json:"dns"`
	Enabled     *bool   `json:"enabled"`
	Weight      *int    `json:"weight"`
	MaxPeers    *int    `json:"max_peers"`
	DriftPolicy *string `json:"drift_policy"`
	// Labels replace the node's labels (see package labels): nil (absent
	// or null) keeps them, an empty object removes them all.
	Labels labels.Set `json:"labels"`
	// TLSFingerprint pins the agent's certificate (https agent_url only):
	// the SHA-256 of its DER as agentapi.ParseFingerprint reads it (hex,
	// any case, colons and a "sha256:" prefix allowed); "" unpins.
	TLSFingerprint *string `json:"tls_fingerprint"`
	// AllowOverlap lets the node's pools overlap another node's (refused
	// otherwise); it is not stored: each change of a pool asks again.
	AllowOverlap *bool `json:"allow_overlap"`
}

// NodeView is a node as the API shows it: never the secret.
type NodeView struct {
	ID        int64  `json:"id"`
	Name      string `json:"name"`
	AgentURL  string `json:"agent_url"`
	AuthType  string `json:"auth_type"`
	SecretSet bool   `json:"secret_set"`
	// SecretRotating reports a secret rotation that has not finished
	// (the controller holds the old secret besides the new one).
	SecretRotating bool   `json:"secret_rotating"`
	WGInterface    string `json:"wg_interface"`
	Endpoint       string `json:"endpoint"`
	// EndpointDerived is set in the answer to a creation that gave no
	// endpoint: the controller derived it (from the agent URL's host and
	// the agent's listen port), and the operator should check it. It is
	// not stored: false everywhere else.
	EndpointDerived     bool            `json:"endpoint_derived,omitempty"`
	IPPool              string          `json:"ip_pool_cidr"`
	IPPool6             string          `json:"ip_pool6_cidr"`
	DNS                 string          `json:"dns"`
	Enabled             bool            `json:"enabled"`
	Weight              int             `json:"weight"`
	MaxPeers            int             `json:"max_peers"`
	PeerCount           int             `json:"peer_count"`
	Status              string          `json:"status"`
	LastSeen            *time.Time      `json:"last_seen"`
	LastError           string          `json:"last_error"`        // why the last poll failed, one sentence; "" after a success
	LastErrorDetail     string          `json:"last_error_detail"` // the error behind LastError, for debugging; "" when none
	ConsecutiveFailures int             `json:"consecutive_failures"`
	Health              json.RawMessage `json:"health"`
	AgentVersion        string          `json:"agent_version"` // from the last health document; "" if not known
	DriftPolicy         string          `json:"drift_policy"`
	Labels              labels.Set      `json:"labels"` // never null: {} for none
	DesiredGeneration   int64           `json:"desired_generation"`
	AckedGeneration     int64           `json:"acked_generation"`
	AckedAt             *time.Time      `json:"acked_at"`
	// DriftCount: times a new set of out-of-band differences was seen;
	// it only grows. DriftCurrent: out-of-band differences the agent still
	// had after the last reconcile (0: it matched, or was repaired), as of
	// DriftCheckedAt (nil: never compared).
	DriftCount     int64      `json:"drift_count"`
	DriftCurrent   int        `json:"drift_current"`
	DriftCheckedAt *time.Time `json:"drift_checked_at"`
	// APIPaths is where the agent serves its peer endpoints, as the
	// controller found out: "bare" (/wg/...), "v1" (/v1/wg/... only), ""
	// not yet.
	APIPaths string `json:"api_paths"`
	// TLSFingerprint is the pinned SHA-256 of the agent's certificate, 64
	// lowercase hex digits; "" when nothing is pinned.
	TLSFingerprint string    `json:"tls_fingerprint"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// PeerInput is the body of POST /api/nodes/{id}/peers, POST /api/peers and
// PUT /api/peers/{id}. A nil field is "not given".
type PeerInput struct {
	// NodeID is used by POST /api/peers only: a number, or "auto" for
	// automatic placement.
	NodeID    json.RawMessage `json:"node_id,omitempty"`
	Name      *string         `json:"name"`
	PublicKey *string         `json:"public_key"` // nil or "": the controller makes the key pair
	// PresharedKey: nil or "" none; "auto" generate one; else a base64 key.
	PresharedKey     *string   `json:"preshared_key"`
	Address          *string   `json:"address"` // IPv4 wanted from the pool; nil: next free
	ClientAllowedIPs *[]string `json:"client_allowed_ips"`
	DNS              *string   `json:"dns"`
	// Keepalive is the client config's PersistentKeepalive only.
	Keepalive *int `json:"persistent_keepalive"`
	// NodeKeepalive is the node side's persistent keepalive; nil on
	// create is 0 (off).
	NodeKeepalive *int  `json:"node_keepalive"`
	Enabled       *bool `json:"enabled"`
	// Placement narrows automatic placement; POST /api/peers with
	// node_id "auto" only. nil: any node.
	Placement *Placement `json:"placement"`
	// ExpiresAt: absent keeps (on create: never); null never; else an
	// RFC 3339 time.
	ExpiresAt json.RawMessage `json:"expires_at,omitempty"`
	// DataLimit: absent keeps (on create: none); null or 0 none; else the
	// bytes the peer may receive and send together.
	DataLimit json.RawMessage `json:"data_limit_bytes,omitempty"`
	// LimitAction: "restrict" (the default) or "delete".
	LimitAction *string `json:"limit_action"`
}

// Placement says which nodes automatic placement may choose from.
type Placement struct {
	// Labels every chosen node must carry, with the same values; nil or
	// empty: any node.
	Labels labels.Set `json:"labels"`
}

// PeerView is a peer as the API shows it: never the private or preshared
// key, only whether they exist.
type PeerView struct {
	ID               int64    `json:"id"`
	NodeID           int64    `json:"node_id"`
	Iface            string   `json:"iface"`
	Name             string   `json:"name"`
	PublicKey        string   `json:"public_key"`
	HasPrivateKey    bool     `json:"has_private_key"`
	HasPresharedKey  bool     `json:"has_preshared_key"`
	Address4         string   `json:"address4"`
	Address6         string   `json:"address6"`
	AllowedIPs       []string `json:"allowed_ips"`
	ClientAllowedIPs []string `json:"client_allowed_ips"`
	DNS              string   `json:"dns"`
	Keepalive        int      `json:"persistent_keepalive"` // the client's config's
	NodeKeepalive    int      `json:"node_keepalive"`       // the node's interface's
	// Enabled is the operator's switch (restrict/allow); Status says
	// whether the peer is on its node, and if not, why.
	Enabled bool   `json:"enabled"`
	Status  string `json:"status"`
	// ExpiresAt is nil for never; DataLimit nil for no limit. Usage is
	// what the peer received and sent since its usage was last reset,
	// across every node it lived on.
	ExpiresAt       *time.Time `json:"expires_at"`
	DataLimit       *int64     `json:"data_limit_bytes"`
	LimitAction     string     `json:"limit_action"`
	Usage           int64      `json:"usage_bytes"`
	SyncState       string     `json:"sync_state"`
	SyncError       string     `json:"sync_error"`
	LatestHandshake *time.Time `json:"latest_handshake"`
	RxBytes         int64      `json:"transfer_rx"`
	TxBytes         int64      `json:"transfer_tx"`
	RxTotal         int64      `json:"total_rx"`
	TxTotal         int64      `json:"total_tx"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`

	// createdOn is, on a peer just created, its node as the creation's
	// transaction read it (id, name, enabled, status; no secret), so that
	// what follows the creation does not read the node again; nil
	// otherwise.
	createdOn *store.Node
}

// CreatedOn returns, for a peer CreatePeer has just made, its node's
// name, whether it is enabled and its status as the creation read them;
// ok is false for any other view.
func (v PeerView) CreatedOn() (name string, enabled bool, status string, ok bool) {
	if v.createdOn == nil {
		return "", false, "", false
	}
	return v.createdOn.Name, v.createdOn.Enabled, string(v.createdOn.Status), true
}

// TestResult is the answer of a connection test against an agent.
type TestResult struct {
	OK         bool            `json:"ok"`
	Message    string          `json:"message"`          // for a person: what worked or what failed, one sentence
	Detail     string          `json:"detail,omitempty"` // the error behind a failed Message, for debugging
	LatencyMS  int64           `json:"latency_ms"`
	Version    string          `json:"version,omitempty"`
	Interfaces []string        `json:"interfaces,omitempty"`
	Health     json.RawMessage `json:"health,omitempty"`
	// APIPaths is where the agent was found to serve its peer endpoints:
	// "bare" or "v1"; "" when the test did not get that far.
	APIPaths string `json:"api_paths,omitempty"`
	// TLSFingerprint is the fingerprint of the certificate an https agent
	// presented (whether or not it matched a pin), so that it can be
	// compared with the one the agent logs and pinned; "" for http or when
	// the handshake failed.
	TLSFingerprint string `json:"tls_fingerprint,omitempty"`
}
