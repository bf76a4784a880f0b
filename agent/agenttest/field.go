package agenttest

import (
	"fmt"
	"net/http"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// Quirks are how the field agents of the seed's family behave where the
// wire contract does not hold them (issue 11). The zero Quirks is our
// agent's behaviour.
type Quirks struct {
	// KeyOneSegment finds a peer key in a path by splitting the raw path
	// on '/': a key containing '/' is not addressable (404 {"error":
	// "Not found"}), and percent escapes are not decoded.
	KeyOneSegment bool
	// PutIgnoresPSK: PUT changes allowed_ips and persistent_keepalive only,
	// and silently ignores preshared_key.
	PutIgnoresPSK bool
	// PutCreates: PUT of an unknown key answers 200 and creates it.
	PutCreates bool
	// DeleteUnknownOK: DELETE of an unknown key answers 200.
	DeleteUnknownOK bool
	// PostUpdates: POST of an existing key answers 200 and updates it as
	// `wg set` would: allowed IPs and keepalive, and the preshared key
	// when one is given (a missing, null or empty one leaves it).
	PostUpdates bool
	// DumpShowsPSK: the dump carries each peer's real preshared_key (a
	// string, or null for none).
	DumpShowsPSK bool
	// FastAPI answers errors as FastAPI does: {"detail": "..."}, a path
	// not served 404 {"detail": "Not Found"}, a body that does not
	// validate 422 {"detail": [...]}.
	FastAPI bool
	// Extras serves the production agent's GET /v1/status, GET
	// /v1/metrics and GET /v1/wg/{iface}/config.
	Extras bool
}

// ReferenceAgent is the dialect of the seed's reference agent (Python
// http.server shelling out to wg): bare paths only, signatures over the
// raw request target, keys found by splitting the raw path, PUT that
// ignores preshared keys and creates unknown peers, DELETE of an unknown
// peer 200, POST of an existing one an update, and a dump that shows
// preshared keys.
func ReferenceAgent() Dialect {
	return Dialect{Paths: PathsBare, Signing: SignRawTarget, Quirks: Quirks{
		KeyOneSegment: true, PutIgnoresPSK: true, PutCreates: true, DeleteUnknownOK: true,
		PostUpdates: true, DumpShowsPSK: true,
	}}
}

// ProductionAgent is the dialect of the seed's later production agent
// (FastAPI): /health bare and everything else only under /v1, signatures
// over the percent-decoded path without the query, FastAPI's error
// shapes, and /v1/status, /v1/metrics and /v1/wg/{iface}/config.
func ProductionAgent() Dialect {
	return Dialect{Paths: PathsV1, Signing: SignDecodedPath, Quirks: Quirks{FastAPI: true, Extras: true}}
}

// The production agent's extra calls (Quirks.Extras).
const (
	OpStatus  Op = "GET /v1/status"
	OpMetrics Op = "GET /v1/metrics"
	OpConfig  Op = "GET /v1/wg/{iface}/config"
)

// writeErr writes an error answer in the Fake's dialect.
func (f *Fake) writeErr(w http.ResponseWriter, status int, msg string) {
	if !f.dialect.Quirks.FastAPI {
		writeError(w, status, msg)
		return
	}
	if status == http.StatusBadRequest {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"detail": []map[string]any{
			{"loc": []string{"body"}, "msg": msg, "type": "value_error"},
		}})
		return
	}
	writeJSON(w, status, map[string]string{"detail": msg})
}

// notServed answers a request for a path the Fake does not serve.
func (f *Fake) notServed(w http.ResponseWriter, methodNotAllowed bool) {
	q := f.dialect.Quirks
	switch {
	case q.FastAPI && methodNotAllowed:
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"detail": "Method Not Allowed"})
	case q.FastAPI:
		writeJSON(w, http.StatusNotFound, map[string]string{"detail": "Not Found"})
	case f.dialect.Quirks.KeyOneSegment: // the reference agent's one answer
		writeError(w, http.StatusNotFound, "Not found")
	case methodNotAllowed:
		writeError(w, http.StatusMethodNotAllowed, "method not allowed")
	default:
		writeError(w, http.StatusNotFound, "no such endpoint")
	}
}

// routeExtra finds the production agent's extra calls; ok is false for
// any other path.
func (f *Fake) routeExtra(r *http.Request, path string) (route, bool) {
	if !f.dialect.Quirks.Extras {
		return route{}, false
	}
	switch {
	case path == "/v1/status":
		return f.pickExtra(r, OpStatus, route{}), true
	case path == "/v1/metrics":
		return f.pickExtra(r, OpMetrics, route{}), true
	case strings.HasPrefix(path, "/v1/wg/") && strings.HasSuffix(path, "/config"):
		iface := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/wg/"), "/config")
		if iface == "" || strings.Contains(iface, "/") {
			return route{op: OpUnknown}, true
		}
		return f.pickExtra(r, OpConfig, route{iface: iface}), true
	}
	return route{}, false
}

func (f *Fake) pickExtra(r *http.Request, op Op, rt route) route {
	if r.Method != http.MethodGet {
		return route{op: OpUnknown, methodNotAllowed: true}
	}
	rt.op = op
	return rt
}

// serveExtra answers an extra call; f.mu is held.
func (f *Fake) serveExtra(w http.ResponseWriter, rt route) {
	switch rt.op {
	case OpStatus:
		ifaces := map[string]any{}
		for _, name := range f.order {
			i := f.ifaces[name]
			var rx, tx int64
			active := 0
			for _, p := range i.peers {
				rx, tx = rx+p.TransferRx, tx+p.TransferTx
				if p.LatestHandshake != nil && f.now().Unix()-*p.LatestHandshake < 180 {
					active++
				}
			}
			ifaces[name] = map[string]any{"status": "up", "peer_count": len(i.peers), "active_peers": active,
				"total_rx_bytes": rx, "total_tx_bytes": tx}
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"system":    map[string]any{"cpu": map[string]any{"percent": 1.5}, "memory": map[string]any{"percent": 20.0}, "disk": map[string]any{"percent": 30.0}, "network": map[string]any{}},
			"wireguard": map[string]any{"interfaces": ifaces},
		})
	case OpMetrics:
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		var b strings.Builder
		for _, name := range f.order {
			fmt.Fprintf(&b, "wireguard_peers_total{interface=%q} %d\n", name, len(f.ifaces[name].peers))
		}
		_, _ = w.Write([]byte(b.String()))
	case OpConfig:
		i := f.ifaces[rt.iface]
		if i == nil {
			f.writeErr(w, http.StatusNotFound, "Interface not found")
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "[Interface]\nListenPort = %d\n", fakeListenPort)
		for _, p := range i.list() {
			fmt.Fprintf(&b, "\n[Peer]\nPublicKey = %s\nAllowedIPs = %s\n", p.PublicKey, strings.Join(p.AllowedIPs, ", "))
		}
		writeJSON(w, http.StatusOK, map[string]string{"interface": i.name, "config": b.String()})
	}
}

// pathKey parses the key of a path in the Fake's dialect: with
// KeyOneSegment the raw text must be the key itself (no escapes decoded),
// and an unparsable one is "Not found", as the reference agent looks it
// up in wg's output.
func (f *Fake) pathKey(raw string) (wgtypes.Key, error) {
	if f.dialect.Quirks.KeyOneSegment {
		k, err := agentapi.ParseKey(raw)
		if err != nil {
			return wgtypes.Key{}, errorf(http.StatusNotFound, "Not found")
		}
		return k, nil
	}
	k, err := agentapi.ParsePathKey(raw)
	if err != nil {
		return wgtypes.Key{}, errorf(http.StatusBadRequest, "invalid public key in path: it must decode to 32 bytes")
	}
	return k, nil
}

// postUpdate is the reference agent's POST of an existing peer: `wg set`
// with the body's allowed IPs and keepalive, and its preshared key when
// one is given.
func (i *fakeIface) postUpdate(k wgtypes.Key, old agentapi.Peer, body []byte) (int, any, map[wgtypes.Key]agentapi.Peer, error) {
	req, err := agentapi.DecodeAddPeer(body)
	if err != nil {
		return 0, nil, nil, err
	}
	_, p, err := i.check(req.PublicKey, req.AllowedIPs, req.PresharedKey, req.PersistentKeepalive)
	if err != nil {
		return 0, nil, nil, err
	}
	if p.PresharedKey == nil {
		p.PresharedKey = old.PresharedKey
	}
	if req.PersistentKeepalive == nil {
		p.PersistentKeepalive = old.PersistentKeepalive
	}
	p.LatestHandshake, p.TransferRx, p.TransferTx, p.Endpoint = old.LatestHandshake, old.TransferRx, old.TransferTx, old.Endpoint
	if err := i.overlaps(k, p.AllowedIPs); err != nil {
		return 0, nil, nil, err
	}
	next := cloneMap(i.peers)
	next[k] = p
	return http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer added successfully",
		Peer: &agentapi.PeerRef{PublicKey: k.String(), AllowedIPs: p.AllowedIPs}}, next, nil
}

// cloneMap copies a peer map.
func cloneMap(m map[wgtypes.Key]agentapi.Peer) map[wgtypes.Key]agentapi.Peer {
	out := make(map[wgtypes.Key]agentapi.Peer, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
