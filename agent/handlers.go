package agent

import (
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// capabilities are the extensions this agent speaks.
func capabilities() []string {
	return []string{agentapi.CapNonce, agentapi.CapPeerSync, agentapi.CapInterfaceInfo}
}

func (a *Agent) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (a *Agent) handleHealth(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	h := agentapi.Health{
		Status:       "ok",
		Timestamp:    now.Unix(),
		Uptime:       int64(now.Sub(a.started).Seconds()),
		Version:      Version,
		Capabilities: capabilities(),
		Environment:  &a.envWire,
	}
	for _, name := range a.order {
		h.Interfaces = append(h.Interfaces, a.ifaces[name].info(false))
	}
	writeJSON(w, http.StatusOK, h)
}

// lookup finds the interface named in the path.
func (a *Agent) lookup(r *http.Request) (*iface, error) {
	name := mux.Vars(r)["iface"]
	i, ok := a.ifaces[name]
	if !ok {
		return nil, notFoundf("interface %q not found", name)
	}
	return i, nil
}

// pathKey decodes the peer key in the path: raw, percent-encoded or
// base64url standard keys are all accepted.
func pathKey(r *http.Request) (wgtypes.Key, error) {
	k, err := agentapi.ParsePathKey(mux.Vars(r)["pubkey"])
	if err != nil {
		return wgtypes.Key{}, badRequestf("invalid public key in path: it must decode to 32 bytes")
	}
	return k, nil
}

func (a *Agent) handleDump(w http.ResponseWriter, r *http.Request) {
	i, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	peers, err := i.dump()
	if err != nil {
		a.fault(w, err)
		return
	}
	writeJSON(w, http.StatusOK, agentapi.Dump{Interface: i.name, Peers: peers})
}

func (a *Agent) handleListPeers(w http.ResponseWriter, r *http.Request) {
	i, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	peers, err := i.dump()
	if err != nil {
		a.fault(w, err)
		return
	}
	writeJSON(w, http.StatusOK, agentapi.PeerList{Interface: i.name, Peers: peers})
}

func (a *Agent) handleGetPeer(w http.ResponseWriter, r *http.Request) {
	i, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	k, err := pathKey(r)
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := i.peer(k)
	if err != nil {
		a.fault(w, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (a *Agent) handleInterface(w http.ResponseWriter, r *http.Request) {
	i, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, i.info(true))
}

func (a *Agent) handleAddPeer(w http.ResponseWriter, r *http.Request) {
	i, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, _ := io.ReadAll(r.Body) // already read and bounded by signed
	req, err := agentapi.DecodeAddPeer(body)
	if err != nil {
		writeError(w, err)
		return
	}
	spec, err := specFromAdd(req)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := i.addPeer(spec); err != nil {
		a.fault(w, err)
		return
	}
	a.log.Info("peer added", "iface", i.name, "peer", spec.Key.String(), "allowed_ips", prefixStrings(spec.AllowedIPs))
	writeJSON(w, http.StatusCreated, agentapi.StatusResponse{
		Status:  "success",
		Message: "Peer added successfully",
		Peer:    &agentapi.PeerRef{PublicKey: spec.Key.String(), AllowedIPs: prefixStrings(spec.AllowedIPs)},
	})
}

func (a *Agent) handleUpdatePeer(w http.ResponseWriter, r *http.Request) {
	i, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	k, err := pathKey(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, _ := io.ReadAll(r.Body)
	req, err := agentapi.DecodeUpdatePeer(body)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := i.updatePeer(k, req); err != nil {
		a.fault(w, err)
		return
	}
	a.log.Info("peer updated", "iface", i.name, "peer", k.String())
	writeJSON(w, http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer updated successfully"})
}

func (a *Agent) handleDeletePeer(w http.ResponseWriter, r *http.Request) {
	i, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	k, err := pathKey(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := i.removePeer(k); err != nil {
		a.fault(w, err)
		return
	}
	a.log.Info("peer removed", "iface", i.name, "peer", k.String())
	writeJSON(w, http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer removed successfully"})
}

func (a *Agent) handleSyncPeers(w http.ResponseWriter, r *http.Request) {
	i, err := a.lookup(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, _ := io.ReadAll(r.Body)
	req, err := agentapi.DecodeSync(body)
	if err != nil {
		writeError(w, err)
		return
	}
	want := make(peerSet, len(req.Peers))
	for n, p := range req.Peers {
		spec, err := specFromSync(n, p)
		if err != nil {
			writeError(w, err)
			return
		}
		if _, dup := want[spec.Key]; dup {
			writeError(w, badRequestf("peers[%d]: public key %s is listed twice", n, spec.Key))
			return
		}
		want[spec.Key] = spec
	}
	res, err := i.syncPeers(want)
	if err != nil {
		a.fault(w, err)
		return
	}
	a.log.Info("peers synced", "iface", i.name, "added", res.Added, "updated", res.Updated, "removed", res.Removed, "unchanged", res.Unchanged)
	writeJSON(w, http.StatusOK, res)
}

// fault writes err, logging it first when it is the agent's own fault.
func (a *Agent) fault(w http.ResponseWriter, err error) {
	if status, _ := statusOf(err); status >= 500 {
		a.log.Error("request failed", "err", err)
	}
	writeError(w, err)
}
