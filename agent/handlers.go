package agent

import (
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// capabilities are the extensions this agent speaks.
func capabilities() []string {
	return []string{agentapi.CapNonce, agentapi.CapPeerSync, agentapi.CapInterfaceInfo, agentapi.CapSecretRotation, agentapi.CapBulkBody}
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
		Version:      a.version,
		Capabilities: capabilities(),
		Environment:  &a.envWire,

		MaxBulkBodyBytes: agentapi.MaxBulkBodyBytes,
	}
	for _, name := range a.order {
		h.Interfaces = append(h.Interfaces, a.ifaces[name].info(false))
	}
	writeJSON(w, http.StatusOK, h)
}

// ifaceHandler serves one request on the interface named in the path. It
// returns the success status and body, or an error for writeError.
type ifaceHandler func(r *http.Request, i *iface) (int, any, error)

// onIface makes a signed handler of h: it verifies the request, finds the
// interface (404 when unknown) and writes h's answer.
func (a *Agent) onIface(h ifaceHandler) http.HandlerFunc { return a.signed(a.serveIface(h)) }

// onIfaceDeferred is onIface for a route whose only durable effect goes
// through the interface's committer (signedDeferred): h passes
// ticketOf(r) with its change.
func (a *Agent) onIfaceDeferred(h ifaceHandler) http.HandlerFunc {
	return a.signedDeferred(a.serveIface(h))
}

// onIfaceBulk is onIface for a bulk route (signedBulk).
func (a *Agent) onIfaceBulk(h ifaceHandler) http.HandlerFunc { return a.signedBulk(a.serveIface(h)) }

func (a *Agent) serveIface(h ifaceHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := mux.Vars(r)["iface"]
		i, ok := a.ifaces[name]
		if !ok {
			writeError(w, notFoundf("interface %q not found", name))
			return
		}
		status, body, err := h(r, i)
		if err != nil {
			if s, _ := statusOf(err); s >= 500 {
				a.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			writeError(w, err)
			return
		}
		writeJSON(w, status, body)
	}
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

// dump answers GET /wg/{iface}/dump and GET /v1/wg/{iface}/peers, which
// have the same shape.
func (a *Agent) dump(_ *http.Request, i *iface) (int, any, error) {
	body, err := i.dumpBody()
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, body, nil
}

func (a *Agent) getPeer(r *http.Request, i *iface) (int, any, error) {
	k, err := pathKey(r)
	if err != nil {
		return 0, nil, err
	}
	p, err := i.peer(k)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, p, nil
}

func (a *Agent) interfaceInfo(_ *http.Request, i *iface) (int, any, error) {
	return http.StatusOK, i.info(true), nil
}

func (a *Agent) addPeer(r *http.Request, i *iface) (int, any, error) {
	body, _ := io.ReadAll(r.Body) // already read and bounded by signed
	req, err := agentapi.DecodeAddPeer(body)
	if err != nil {
		return 0, nil, err
	}
	conf, err := confFromAdd(req)
	if err != nil {
		return 0, nil, err
	}
	if err := checkPeerKey(conf.Key, i.tun.PublicKey()); err != nil {
		return 0, nil, err
	}
	if err := i.addPeer(conf, ticketOf(r)); err != nil {
		return 0, nil, err
	}
	a.log.Info("peer added", "iface", i.name, "peer", conf.Key.String(), "allowed_ips", prefixStrings(conf.AllowedIPs))
	return http.StatusCreated, agentapi.StatusResponse{
		Status:  "success",
		Message: "Peer added successfully",
		Peer:    &agentapi.PeerRef{PublicKey: conf.Key.String(), AllowedIPs: prefixStrings(conf.AllowedIPs)},
	}, nil
}

func (a *Agent) updatePeer(r *http.Request, i *iface) (int, any, error) {
	k, err := pathKey(r)
	if err != nil {
		return 0, nil, err
	}
	body, _ := io.ReadAll(r.Body)
	req, err := agentapi.DecodeUpdatePeer(body)
	if err != nil {
		return 0, nil, err
	}
	if err := i.updatePeer(k, req, ticketOf(r)); err != nil {
		return 0, nil, err
	}
	a.log.Info("peer updated", "iface", i.name, "peer", k.String())
	return http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer updated successfully"}, nil
}

func (a *Agent) deletePeer(r *http.Request, i *iface) (int, any, error) {
	k, err := pathKey(r)
	if err != nil {
		return 0, nil, err
	}
	if err := i.removePeer(k, ticketOf(r)); err != nil {
		return 0, nil, err
	}
	a.log.Info("peer removed", "iface", i.name, "peer", k.String())
	return http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer removed successfully"}, nil
}

func (a *Agent) syncPeers(r *http.Request, i *iface) (int, any, error) {
	body, _ := io.ReadAll(r.Body)
	req, err := agentapi.DecodeSync(body)
	if err != nil {
		return 0, nil, err
	}
	if len(req.Peers) > tunnel.MaxPeers {
		return 0, nil, badRequestf("%d peers: an interface holds at most %d (wireguard-go's limit); spread peers over more interfaces or nodes", len(req.Peers), tunnel.MaxPeers)
	}
	want := make(peerSet, len(req.Peers))
	for n, p := range req.Peers {
		conf, err := confFromSync(n, p)
		if err != nil {
			return 0, nil, err
		}
		if err := checkPeerKey(conf.Key, i.tun.PublicKey()); err != nil {
			return 0, nil, fmt.Errorf("peers[%d]: %w", n, err)
		}
		if _, dup := want[conf.Key]; dup {
			return 0, nil, badRequestf("peers[%d]: public key %s is listed twice", n, conf.Key)
		}
		want[conf.Key] = conf
	}
	res, err := i.syncPeers(want)
	if err != nil {
		return 0, nil, err
	}
	a.log.Info("peers synced", "iface", i.name, "added", res.Added, "updated", res.Updated, "removed", res.Removed, "unchanged", res.Unchanged)
	return http.StatusOK, res, nil
}
