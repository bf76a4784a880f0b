package agenttest

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent"
	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// fakeListenPort is the listen port every interface of a Fake reports.
const fakeListenPort = 51820

// httpError is an answer other than success.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, a ...any) error {
	return &httpError{status, fmt.Sprintf(format, a...)}
}

// serve answers an authentic call routed to rt; lie makes a write answer
// success without applying it.
func (f *Fake) serve(w http.ResponseWriter, rt route, body []byte, lie bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch rt.op {
	case OpHealth:
		writeJSON(w, http.StatusOK, f.health())
		return
	case OpStatus, OpMetrics, OpConfig:
		f.serveExtra(w, rt)
		return
	}
	i := f.ifaces[rt.iface]
	if i == nil {
		f.writeErr(w, http.StatusNotFound, fmt.Sprintf("interface %q not found", rt.iface))
		return
	}
	status, answer, next, err := f.call(i, rt, body)
	var he *httpError
	switch {
	case err != nil && errors.As(err, &he):
		f.writeErr(w, he.status, he.msg)
		return
	case err != nil:
		f.writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	if next != nil && !(lie && rt.op.write()) {
		i.peers = next
	}
	writeJSON(w, status, answer)
}

// call computes the answer to a call on i and, for a write, the peer set
// after it; f.mu is held.
func (f *Fake) call(i *fakeIface, rt route, body []byte) (status int, answer any, next map[wgtypes.Key]agentapi.Peer, err error) {
	q := f.dialect.Quirks
	switch rt.op {
	case OpDump, OpPeers:
		peers := i.list()
		if q.DumpShowsPSK {
			for n := range peers {
				peers[n].PresharedKey = i.peers[mustKey(peers[n].PublicKey)].PresharedKey
			}
		}
		return http.StatusOK, agentapi.Dump{Interface: i.name, Peers: peers}, nil, nil
	case OpInterface:
		info := i.info()
		info.Addresses, info.MTU = []string{"10.99.0.1/24"}, 1420
		return http.StatusOK, info, nil, nil
	case OpAddPeer:
		status, answer, next, err := i.add(body)
		var he *httpError
		if q.PostUpdates && errors.As(err, &he) && he.status == http.StatusConflict {
			if req, derr := agentapi.DecodeAddPeer(body); derr == nil {
				if k, perr := agentapi.ParseKey(req.PublicKey); perr == nil {
					if old, ok := i.peers[k]; ok {
						return i.postUpdate(k, old, body)
					}
				}
			}
		}
		return status, answer, next, err
	case OpSync:
		return i.sync(body)
	}
	k, err := f.pathKey(rt.key)
	if err != nil {
		return 0, nil, nil, err
	}
	var update agentapi.UpdatePeerRequest
	if rt.op == OpUpdatePeer { // the agent decodes the body before it looks the peer up
		if update, err = agentapi.DecodeUpdatePeer(body); err != nil {
			return 0, nil, nil, err
		}
	}
	p, ok := i.peers[k]
	switch {
	case !ok && rt.op == OpDeletePeer && q.DeleteUnknownOK:
		return http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer removed successfully"}, nil, nil
	case !ok && rt.op == OpUpdatePeer && q.PutCreates:
		p = agentapi.Peer{PublicKey: k.String()}
	case !ok:
		return 0, nil, nil, errorf(http.StatusNotFound, "peer %s not found on %s", k, i.name)
	}
	switch rt.op {
	case OpPeer:
		return http.StatusOK, hide(p), nil, nil
	case OpDeletePeer:
		next = maps.Clone(i.peers)
		delete(next, k)
		return http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer removed successfully"}, next, nil
	default: // OpUpdatePeer
		status, answer, next, err := i.update(k, p, update)
		if err == nil && q.PutIgnoresPSK {
			np := next[k]
			np.PresharedKey = p.PresharedKey
			next[k] = np
		}
		return status, answer, next, err
	}
}

func (i *fakeIface) add(body []byte) (int, any, map[wgtypes.Key]agentapi.Peer, error) {
	req, err := agentapi.DecodeAddPeer(body)
	if err != nil {
		return 0, nil, nil, err
	}
	k, p, err := i.check(req.PublicKey, req.AllowedIPs, req.PresharedKey, req.PersistentKeepalive)
	if err != nil {
		return 0, nil, nil, err
	}
	if _, ok := i.peers[k]; ok {
		return 0, nil, nil, errorf(http.StatusConflict, "peer %s already exists on %s", k, i.name)
	}
	if err := i.overlaps(k, p.AllowedIPs); err != nil {
		return 0, nil, nil, err
	}
	next := maps.Clone(i.peers)
	next[k] = p
	return http.StatusCreated, agentapi.StatusResponse{Status: "success", Message: "Peer added successfully",
		Peer: &agentapi.PeerRef{PublicKey: k.String(), AllowedIPs: p.AllowedIPs}}, next, nil
}

func (i *fakeIface) update(k wgtypes.Key, p agentapi.Peer, req agentapi.UpdatePeerRequest) (int, any, map[wgtypes.Key]agentapi.Peer, error) {
	p, err := agent.CheckUpdate(p, req)
	if err != nil {
		return 0, nil, nil, err
	}
	if err := i.overlaps(k, p.AllowedIPs); err != nil {
		return 0, nil, nil, err
	}
	next := maps.Clone(i.peers)
	next[k] = p
	return http.StatusOK, agentapi.StatusResponse{Status: "success", Message: "Peer updated successfully"}, next, nil
}

func (i *fakeIface) sync(body []byte) (int, any, map[wgtypes.Key]agentapi.Peer, error) {
	req, err := agentapi.DecodeSync(body)
	if err != nil {
		return 0, nil, nil, err
	}
	next := make(map[wgtypes.Key]agentapi.Peer, len(req.Peers))
	for n, s := range req.Peers {
		ka := s.PersistentKeepalive
		k, p, err := i.check(s.PublicKey, s.AllowedIPs, s.PresharedKey, &ka)
		if err != nil {
			return 0, nil, nil, errorf(http.StatusBadRequest, "peers[%d]: %v", n, err)
		}
		if _, dup := next[k]; dup {
			return 0, nil, nil, errorf(http.StatusBadRequest, "peers[%d]: public key %s is listed twice", n, k)
		}
		next[k] = p
	}
	if err := checkOverlap(next); err != nil {
		return 0, nil, nil, err
	}
	res := agentapi.SyncResult{Status: "success"}
	for k, p := range next {
		old, had := i.peers[k]
		switch {
		case !had:
			res.Added++
		case !samePeer(old, p):
			res.Updated++
		default:
			res.Unchanged++
		}
	}
	res.Removed = len(i.peers) - res.Updated - res.Unchanged
	return http.StatusOK, res, next, nil
}

// health is the /health answer; f.mu is held.
func (f *Fake) health() agentapi.Health {
	now := f.now()
	h := agentapi.Health{Status: "ok", Timestamp: now.Unix(), Uptime: int64(now.Sub(f.started).Seconds()),
		Version: f.version, Capabilities: f.caps}
	for _, name := range f.order {
		h.Interfaces = append(h.Interfaces, f.ifaces[name].info())
	}
	return h
}

// info is the abridged description of i, as in /health.
func (i *fakeIface) info() agentapi.InterfaceInfo {
	return agentapi.InterfaceInfo{Name: i.name, Mode: "netstack", PublicKey: i.publicKey.String(),
		ListenPort: fakeListenPort, PeerCount: len(i.peers)}
}

// check validates one peer of a request body for i by the agent's own
// rules (agent.CheckPeer) and returns it with its key.
func (i *fakeIface) check(key string, allowed []string, psk *string, keepalive *int) (wgtypes.Key, agentapi.Peer, error) {
	p, err := agent.CheckPeer(key, allowed, psk, keepalive, i.publicKey)
	if err != nil {
		return wgtypes.Key{}, agentapi.Peer{}, err
	}
	k, err := agentapi.ParseKey(p.PublicKey)
	if err != nil { // CheckPeer returns the key it parsed
		return wgtypes.Key{}, agentapi.Peer{}, fmt.Errorf("agenttest: CheckPeer returned key %q: %w", p.PublicKey, err)
	}
	return k, p, nil
}

// comparePrefix orders prefixes by address, then length.
func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// overlaps refuses allowed IPs of peer k that overlap another peer's.
func (i *fakeIface) overlaps(k wgtypes.Key, allowed []string) error {
	for ok, other := range i.peers {
		if ok == k {
			continue
		}
		for _, o := range other.AllowedIPs {
			op, err := netip.ParsePrefix(o)
			if err != nil {
				continue // put there by Edit
			}
			for _, s := range allowed {
				if p := netip.MustParsePrefix(s); p.Overlaps(op) {
					return errorf(http.StatusConflict, "allowed IP %s of peer %s overlaps %s of peer %s", p, k, op, ok)
				}
			}
		}
	}
	return nil
}

// checkOverlap refuses a peer set in which two peers' allowed IPs
// overlap: prefixes are nested or disjoint, so after sorting each one
// needs comparing only with the widest one open before it.
func checkOverlap(peers map[wgtypes.Key]agentapi.Peer) error {
	type owned struct {
		p     netip.Prefix
		owner wgtypes.Key
	}
	var all []owned
	for k, p := range peers {
		for _, s := range p.AllowedIPs {
			all = append(all, owned{netip.MustParsePrefix(s), k})
		}
	}
	slices.SortFunc(all, func(a, b owned) int { return comparePrefix(a.p, b.p) })
	var open *owned
	for n := range all {
		e := &all[n]
		if open != nil && open.p.Overlaps(e.p) {
			if open.owner != e.owner {
				return errorf(http.StatusConflict, "allowed IP %s of peer %s overlaps %s of peer %s", e.p, e.owner, open.p, open.owner)
			}
			if open.p.Bits() <= e.p.Bits() {
				continue // e lies inside open
			}
		}
		open = e
	}
	return nil
}

// samePeer reports whether two stored peers are configured alike.
func samePeer(a, b agentapi.Peer) bool {
	return a.PersistentKeepalive == b.PersistentKeepalive && slices.Equal(a.AllowedIPs, b.AllowedIPs) &&
		(a.PresharedKey == nil) == (b.PresharedKey == nil) && (a.PresharedKey == nil || *a.PresharedKey == *b.PresharedKey)
}

// mustKey parses a key the Fake stored itself.
func mustKey(s string) wgtypes.Key {
	k, err := agentapi.ParseKey(s)
	if err != nil {
		panic("agenttest: stored key does not parse: " + s)
	}
	return k
}

// hide is p as an answer shows it: without its preshared key.
func hide(p agentapi.Peer) agentapi.Peer {
	p.PresharedKey = nil
	if p.AllowedIPs == nil {
		p.AllowedIPs = []string{}
	}
	return p
}
