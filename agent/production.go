package agent

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// The endpoints of the production agent's family (docs/AGENT_API.md,
// "Endpoints of the production agent"), served under /v1 and signed like
// every other.

// handleStatus answers GET /v1/status: the system and every interface.
func (a *Agent) handleStatus(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	st := agentapi.Status{
		Status:    "ok",
		Timestamp: now.Unix(),
		Uptime:    int64(now.Sub(a.started).Seconds()),
		Version:   a.version,
		System:    a.systemStatus(),
		WireGuard: agentapi.WireGuardStatus{Interfaces: make(map[string]agentapi.InterfaceStatus, len(a.order))},
	}
	st.Hostname, _ = os.Hostname()
	for _, name := range a.order {
		is, err := a.ifaces[name].status(now)
		if err != nil {
			a.log.Error("status: reading the device", "iface", name, "err", err)
			writeError(w, err)
			return
		}
		st.WireGuard.Interfaces[name] = is
	}
	writeJSON(w, http.StatusOK, st)
}

// status sums the device's peers: how many, how many active (a handshake
// within activeWindow of now), and their traffic.
func (i *iface) status(now time.Time) (agentapi.InterfaceStatus, error) {
	peers, err := i.tun.Peers()
	if err != nil {
		return agentapi.InterfaceStatus{}, fmt.Errorf("reading peers of %s: %w", i.name, err)
	}
	s := agentapi.InterfaceStatus{
		Status:     i.upState(),
		Mode:       i.tun.Mode(),
		PublicKey:  i.tun.PublicKey().String(),
		ListenPort: i.tun.ListenPort(),
		PeerCount:  len(peers),
	}
	for _, p := range peers {
		if !p.LastHandshakeTime.IsZero() && now.Sub(p.LastHandshakeTime) < activeWindow {
			s.ActivePeers++
		}
		s.TotalRxBytes += p.ReceiveBytes
		s.TotalTxBytes += p.TransmitBytes
	}
	return s, nil
}

// handleMetrics answers GET /v1/metrics with the same registry as the
// metrics listener: the Prometheus text, signed.
func (a *Agent) handleMetrics(w http.ResponseWriter, r *http.Request) {
	a.prom.ServeHTTP(w, r)
}

// getConfig answers GET /v1/wg/{iface}/config.
func (a *Agent) getConfig(_ *http.Request, i *iface) (int, any, error) {
	text, err := i.showConf()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, agentapi.Config{Status: "ok", Interface: i.name, Config: text}, nil
}

// showConf writes the device as a wg(8) config, in key order: the
// listen port and every peer's public key, allowed IPs and keepalive.
// The private key is never written, nor a preshared key (a comment says
// that a peer has one), nor endpoints, which the agent does not set.
func (i *iface) showConf() (string, error) {
	peers, err := i.tun.Peers()
	if err != nil {
		return "", fmt.Errorf("reading peers of %s: %w", i.name, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: PrivateKey is not shown (it never leaves the node), nor preshared keys.\n", i.name)
	fmt.Fprintf(&b, "[Interface]\nListenPort = %d\n", i.tun.ListenPort())
	for _, p := range peers {
		fmt.Fprintf(&b, "\n[Peer]\nPublicKey = %s\n", p.PublicKey)
		if p.PresharedKey != ([32]byte{}) {
			b.WriteString("# PresharedKey is set and not shown\n")
		}
		if len(p.AllowedIPs) > 0 {
			ips := make([]string, len(p.AllowedIPs))
			for n, a := range p.AllowedIPs {
				ips[n] = a.String()
			}
			fmt.Fprintf(&b, "AllowedIPs = %s\n", strings.Join(ips, ", "))
		}
		if ka := int(p.PersistentKeepaliveInterval / time.Second); ka > 0 {
			fmt.Fprintf(&b, "PersistentKeepalive = %d\n", ka)
		}
	}
	return b.String(), nil
}

// syncConf answers POST /v1/wg/{iface}/syncconf: the config's [Peer]
// sections become the interface's whole peer set in one change, as
// PUT /v1/wg/{iface}/peers does. Nothing changes unless all of it is valid.
func (a *Agent) syncConf(r *http.Request, i *iface) (int, any, error) {
	body, _ := io.ReadAll(r.Body) // already read and bounded by signed
	req, err := agentapi.DecodeSyncConf(body)
	if err != nil {
		return 0, nil, err
	}
	text, err := base64.StdEncoding.DecodeString(req.Config)
	if err != nil {
		return 0, nil, badRequestf(`"config" is not standard base64 (it holds the base64 of a wg config)`)
	}
	want, err := parseSetConf(text, i.tun.PublicKey(), i.tun.ListenPort())
	if err != nil {
		return 0, nil, err
	}
	res, err := i.syncPeers(want)
	if err != nil {
		return 0, nil, err
	}
	a.log.Info("config synced", "iface", i.name, "added", res.Added, "updated", res.Updated, "removed", res.Removed, "unchanged", res.Unchanged)
	return http.StatusOK, res, nil
}

// enable and disable answer POST /v1/wg/{iface}/enable and /disable.
func (a *Agent) enable(_ *http.Request, i *iface) (int, any, error)  { return a.setUp(i, true) }
func (a *Agent) disable(_ *http.Request, i *iface) (int, any, error) { return a.setUp(i, false) }

func (a *Agent) setUp(i *iface, up bool) (int, any, error) {
	if err := i.setUp(up); err != nil {
		return 0, nil, err
	}
	msg := "Interface enabled"
	if !up {
		msg = "Interface disabled"
	}
	a.log.Info(strings.ToLower(msg), "iface", i.name)
	return http.StatusOK, agentapi.InterfaceState{Status: "success", Message: msg, Interface: i.name, State: i.upState()}, nil
}
