package fleet

import (
	"net/netip"
	"time"

	"github.com/wgfleet/wgfleet/controller/store"
)

// nodeView shows a node without its secret.
func nodeView(n store.Node, peerCount int) NodeView {
	lastError, lastErrorDetail := store.SplitNodeError(n.LastError)
	v := NodeView{
		ID:                  n.ID,
		Name:                n.Name,
		AgentURL:            n.AgentURL,
		AuthType:            string(n.AuthType),
		SecretSet:           len(n.Secret) > 0,
		SecretRotating:      n.PrevSecret != nil,
		WGInterface:         n.WGInterface,
		Endpoint:            n.Endpoint,
		IPPool:              prefixString(n.IPPool),
		IPPool6:             prefixString(n.IPPool6),
		DNS:                 n.DNS,
		Enabled:             n.Enabled,
		Weight:              n.Weight,
		MaxPeers:            n.MaxPeers,
		PeerCount:           peerCount,
		Status:              string(n.Status),
		LastSeen:            timePtr(n.LastSeen),
		LastError:           lastError,
		LastErrorDetail:     lastErrorDetail,
		ConsecutiveFailures: n.ConsecutiveFailures,
		Health:              n.HealthJSON,
		AgentVersion:        n.AgentVersion,
		DriftPolicy:         string(n.DriftPolicy),
		Labels:              n.Labels.Clone(),
		DesiredGeneration:   n.DesiredGeneration,
		AckedGeneration:     n.AckedGeneration,
		AckedAt:             timePtr(n.AckedAt),
		DriftCount:          n.DriftCount,
		DriftCurrent:        n.DriftCurrent,
		DriftCheckedAt:      timePtr(n.DriftCheckedAt),
		APIPaths:            n.APIPaths,
		TLSFingerprint:      n.TLSFingerprint.String(),
		CreatedAt:           n.CreatedAt,
		UpdatedAt:           n.UpdatedAt,
	}
	return v
}

// peerView shows a peer with its public key only.
func peerView(p store.Peer) PeerView {
	return PeerView{
		ID:               p.ID,
		NodeID:           p.NodeID,
		Iface:            p.Iface,
		Name:             p.Name,
		PublicKey:        p.PublicKey.String(),
		HasPrivateKey:    p.PrivateKey != nil,
		HasPresharedKey:  p.PresharedKey != nil,
		Address4:         addrString(p.Address4),
		Address6:         addrString(p.Address6),
		AllowedIPs:       prefixStrings(p.AllowedIPs),
		ClientAllowedIPs: prefixStrings(p.ClientAllowedIPs),
		DNS:              p.DNS,
		Keepalive:        int(p.Keepalive / time.Second),
		NodeKeepalive:    int(p.NodeKeepalive / time.Second),
		Enabled:          p.Enabled,
		Status:           string(p.Status()),
		ExpiresAt:        timePtr(p.ExpiresAt),
		DataLimit:        limitPtr(p.DataLimit),
		LimitAction:      string(p.LimitAction),
		Usage:            p.Usage(),
		SyncState:        string(p.SyncState),
		SyncError:        p.SyncError,
		LatestHandshake:  timePtr(p.LastHandshake),
		RxBytes:          p.RxBytes,
		TxBytes:          p.TxBytes,
		RxTotal:          p.RxTotal,
		TxTotal:          p.TxTotal,
		CreatedAt:        p.CreatedAt,
		UpdatedAt:        p.UpdatedAt,
	}
}

func limitPtr(n int64) *int64 {
	if n <= 0 {
		return nil
	}
	return &n
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func prefixString(p netip.Prefix) string {
	if !p.IsValid() {
		return ""
	}
	return p.String()
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
