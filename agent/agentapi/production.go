package agentapi

import (
	"fmt"

	"github.com/wgfleet/wgfleet/container"
)

// Wire types of the endpoints our agent serves for controllers of the
// production agent's family (docs/AGENT_API.md, "Endpoints of the
// production agent"): GET /v1/status, GET /v1/wg/{iface}/config,
// POST /v1/wg/{iface}/syncconf, POST /v1/wg/{iface}/enable and /disable.

// Interface states in Status and InterfaceInfo.
const (
	InterfaceUp   = "up"
	InterfaceDown = "down"
)

// Status is the body of GET /v1/status. A part of System the agent could
// not read is null.
type Status struct {
	Status    string          `json:"status"`
	Timestamp int64           `json:"timestamp"`
	Uptime    int64           `json:"uptime"`
	Version   string          `json:"version"`
	Hostname  string          `json:"hostname,omitempty"`
	System    SystemStatus    `json:"system"`
	WireGuard WireGuardStatus `json:"wireguard"`
}

// SystemStatus is the host as the agent sees it (inside a container: the
// container's view).
type SystemStatus struct {
	CPU     *CPUStatus     `json:"cpu"`
	Memory  *MemoryStatus  `json:"memory"`
	Disk    *DiskStatus    `json:"disk"`
	Network *NetworkStatus `json:"network"`
}

// CPUStatus: Percent is the busy share of all CPUs since the previous
// status request (since the agent started, for the first).
type CPUStatus struct {
	Count       int        `json:"count"`
	Percent     float64    `json:"percent"`
	LoadAverage [3]float64 `json:"load_average"`
}

// MemoryStatus is in bytes; Percent is Used of Total.
type MemoryStatus struct {
	Total     uint64  `json:"total"`
	Available uint64  `json:"available"`
	Used      uint64  `json:"used"`
	Percent   float64 `json:"percent"`
}

// DiskStatus is the file system of the agent's state directory, in bytes.
type DiskStatus struct {
	Path    string  `json:"path"`
	Total   uint64  `json:"total"`
	Used    uint64  `json:"used"`
	Free    uint64  `json:"free"`
	Percent float64 `json:"percent"`
}

// NetworkStatus sums the host's network interfaces, loopback excluded.
type NetworkStatus struct {
	BytesSent   uint64 `json:"bytes_sent"`
	BytesRecv   uint64 `json:"bytes_recv"`
	PacketsSent uint64 `json:"packets_sent"`
	PacketsRecv uint64 `json:"packets_recv"`
}

// WireGuardStatus holds every interface by name.
type WireGuardStatus struct {
	Interfaces map[string]InterfaceStatus `json:"interfaces"`
}

// InterfaceStatus is one interface in GET /v1/status. ActivePeers have had
// a handshake in the last 180 s; the byte totals are summed over the
// peers the device holds now.
type InterfaceStatus struct {
	Status       string         `json:"status"` // InterfaceUp or InterfaceDown
	Mode         container.Mode `json:"mode"`
	PublicKey    string         `json:"public_key"`
	ListenPort   int            `json:"listen_port"`
	PeerCount    int            `json:"peer_count"`
	ActivePeers  int            `json:"active_peers"`
	TotalRxBytes int64          `json:"total_rx_bytes"`
	TotalTxBytes int64          `json:"total_tx_bytes"`
}

// Config is the body of GET /v1/wg/{iface}/config: the interface as a
// wg(8) config. It never holds the private key nor a preshared key.
type Config struct {
	Status    string `json:"status"`
	Interface string `json:"interface"`
	Config    string `json:"config"`
}

// SyncConfRequest is the body of POST /v1/wg/{iface}/syncconf: Config is
// the standard base64 of a wg(8) config.
type SyncConfRequest struct {
	Config string `json:"config"`
}

// DecodeSyncConf decodes a POST /v1/wg/{iface}/syncconf body; "config"
// must be present. The config itself is not decoded.
func DecodeSyncConf(data []byte) (SyncConfRequest, error) {
	var body struct {
		Config *string `json:"config"`
	}
	if err := decodeBody(data, &body); err != nil {
		return SyncConfRequest{}, err
	}
	if body.Config == nil {
		return SyncConfRequest{}, fmt.Errorf(`%w: "config" must be a string: the base64 of a wg config`, ErrBadRequest)
	}
	return SyncConfRequest{Config: *body.Config}, nil
}

// InterfaceState is the answer to POST /v1/wg/{iface}/enable and /disable.
type InterfaceState struct {
	Status    string `json:"status"`
	Message   string `json:"message"`
	Interface string `json:"interface"`
	State     string `json:"state"` // InterfaceUp or InterfaceDown
}
