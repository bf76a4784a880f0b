package agentapi

// Wire types of the agent API (docs/AGENT_API.md). Field names and null
// conventions follow the seed contract exactly; do not rename.

import (
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/container"
)

// Capabilities advertised in Health.Capabilities.
const (
	CapNonce         = "nonce"
	CapPeerSync      = "peer-sync"
	CapInterfaceInfo = "interface-info"
)

// Health is the body of GET /health.
type Health struct {
	Status       string          `json:"status"`
	Timestamp    int64           `json:"timestamp"`
	Uptime       int64           `json:"uptime"`
	Version      string          `json:"version"`
	Capabilities []string        `json:"capabilities,omitempty"`
	Interfaces   []InterfaceInfo `json:"interfaces,omitempty"`
	Environment  *Environment    `json:"environment,omitempty"`
	// MaxBulkBodyBytes is the largest body the agent takes on its bulk
	// routes, signed as a bulk request (CapBulkBody, bulk.go); 0 when it
	// takes none beyond MaxBodyBytes.
	MaxBulkBodyBytes int64 `json:"max_bulk_body_bytes,omitempty"`
}

// InterfaceKey is the public key of the interface called name in ifaces
// (a health document's or an interface answer's): the first one of that
// name, when its key parses and is not all zeros; false otherwise.
func InterfaceKey(ifaces []InterfaceInfo, name string) (wgtypes.Key, bool) {
	for _, i := range ifaces {
		if i.Name != name {
			continue
		}
		k, err := ParseKey(i.PublicKey)
		if err != nil || k == (wgtypes.Key{}) {
			return wgtypes.Key{}, false
		}
		return k, true
	}
	return wgtypes.Key{}, false
}

// HasCapability reports whether the agent advertised capability c.
func (h Health) HasCapability(c string) bool {
	for _, x := range h.Capabilities {
		if x == c {
			return true
		}
	}
	return false
}

// Environment says what the agent found about where it runs
// (container.Environment, whose fields it carries at the top level), the
// data-plane mode it was asked for and the one it chose, and why
// (container.Choice).
type Environment struct {
	container.Environment
	ModeRequested container.Mode `json:"mode_requested"`
	container.Choice
}

// InterfaceInfo describes one interface. It never carries the private key.
// In /health it is abridged (no addresses or MTU); GET /v1/wg/{iface} fills it.
type InterfaceInfo struct {
	Name       string         `json:"name"`
	Mode       container.Mode `json:"mode"`
	PublicKey  string         `json:"public_key"`
	ListenPort int            `json:"listen_port"`
	// Status is InterfaceUp, or InterfaceDown after a disable.
	Status    string   `json:"status,omitempty"`
	Addresses []string `json:"addresses,omitempty"`
	MTU       int      `json:"mtu,omitempty"`
	PeerCount int      `json:"peer_count"`
}

// Peer is one peer as it appears in a dump. PresharedKey is always nil on
// the wire: a dump never carries key material. Endpoint and LatestHandshake
// are nil when unknown / never happened. AllowedIPs is [] (never null) for none.
type Peer struct {
	PublicKey           string   `json:"public_key"`
	PresharedKey        *string  `json:"preshared_key"`
	Endpoint            *string  `json:"endpoint"`
	AllowedIPs          []string `json:"allowed_ips"`
	LatestHandshake     *int64   `json:"latest_handshake"`
	TransferRx          int64    `json:"transfer_rx"`
	TransferTx          int64    `json:"transfer_tx"`
	PersistentKeepalive int      `json:"persistent_keepalive"`
}

// Dump is the body of GET /wg/{iface}/dump.
type Dump struct {
	Interface string `json:"interface"`
	Peers     []Peer `json:"peers"`
}

// PeerList is the body of GET /v1/wg/{iface}/peers: the same shape as a
// dump.
type PeerList = Dump

// AddPeerRequest is the body of POST /wg/{iface}/peers. PresharedKey nil or
// "" means none; PersistentKeepalive nil means 0 (off).
type AddPeerRequest struct {
	PublicKey           string   `json:"public_key"`
	AllowedIPs          []string `json:"allowed_ips"`
	PresharedKey        *string  `json:"preshared_key,omitempty"`
	PersistentKeepalive *int     `json:"persistent_keepalive,omitempty"`
}

// UpdatePeerRequest is the body of PUT /wg/{iface}/peers/{pubkey}. A nil field
// is left unchanged. PresharedKey pointing at "" removes the preshared key.
type UpdatePeerRequest struct {
	AllowedIPs          *[]string `json:"allowed_ips,omitempty"`
	PresharedKey        *string   `json:"preshared_key,omitempty"`
	PersistentKeepalive *int      `json:"persistent_keepalive,omitempty"`
}

// PeerSpec is one desired peer in a PUT /v1/wg/{iface}/peers body.
type PeerSpec struct {
	PublicKey           string   `json:"public_key"`
	AllowedIPs          []string `json:"allowed_ips"`
	PresharedKey        *string  `json:"preshared_key,omitempty"`
	PersistentKeepalive int      `json:"persistent_keepalive,omitempty"`
}

// SyncRequest is the body of PUT /v1/wg/{iface}/peers: the whole peer set.
type SyncRequest struct {
	Peers []PeerSpec `json:"peers"`
}

// SyncResult is the answer to PUT /v1/wg/{iface}/peers.
type SyncResult struct {
	Status    string `json:"status"`
	Added     int    `json:"added"`
	Updated   int    `json:"updated"`
	Removed   int    `json:"removed"`
	Unchanged int    `json:"unchanged"`
}

// PeerRef is the abridged peer echoed by a successful POST.
type PeerRef struct {
	PublicKey  string   `json:"public_key"`
	AllowedIPs []string `json:"allowed_ips"`
}

// StatusResponse is the success body of the seed's write endpoints.
type StatusResponse struct {
	Status  string   `json:"status"`
	Message string   `json:"message"`
	Peer    *PeerRef `json:"peer,omitempty"`
}

// ErrorResponse is every error body: {"error": "..."}.
type ErrorResponse struct {
	Error string `json:"error"`
}
