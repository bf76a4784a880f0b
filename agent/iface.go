package agent

import (
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// iface is one managed interface: its tunnel, its desired peers and their
// state file.
type iface struct {
	name  string
	tun   *tunnel.Tunnel
	state stateFile
	log   *slog.Logger

	// mu serializes every change of this interface: validate, apply to the
	// device (one UAPI set) and persist happen under it, so a change is
	// applied and saved in full or not at all, and peers always equals what
	// the device was last told.
	mu    sync.Mutex
	peers peerSet
}

// commit makes next the interface's peer set: it applies the difference to
// the device in one UAPI set, then saves the state file. If saving fails the
// device is put back as it was, so nothing is half-applied. Callers hold mu
// and have validated next in full.
func (i *iface) commit(next peerSet) (changes int, err error) {
	if err := next.checkOverlap(); err != nil {
		return 0, err
	}
	d := diff(i.peers, next)
	if len(d) == 0 {
		return 0, nil
	}
	if err := i.tun.Configure(d); err != nil {
		return 0, fmt.Errorf("applying %d peer changes to %s: %w", len(d), i.name, err)
	}
	if err := i.state.save(i.name, next); err != nil {
		if rerr := i.tun.Configure(diff(next, i.peers)); rerr != nil {
			i.log.Error("rolling back device after failed save", "iface", i.name, "err", rerr)
		}
		return 0, fmt.Errorf("saving peer state of %s: %w", i.name, err)
	}
	i.peers = next
	return len(d), nil
}

func (i *iface) addPeer(spec peerSpec) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if _, ok := i.peers[spec.Key]; ok {
		return conflictf("peer %s already exists on %s", spec.Key, i.name)
	}
	next := i.peers.clone()
	next[spec.Key] = spec
	_, err := i.commit(next)
	return err
}

func (i *iface) updatePeer(k wgtypes.Key, req agentapi.UpdatePeerRequest) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	cur, ok := i.peers[k]
	if !ok {
		return notFoundf("peer %s not found on %s", k, i.name)
	}
	spec, err := applyUpdate(cur, req)
	if err != nil {
		return err
	}
	next := i.peers.clone()
	next[k] = spec
	_, err = i.commit(next)
	return err
}

func (i *iface) removePeer(k wgtypes.Key) error {
	i.mu.Lock()
	defer i.mu.Unlock()
	if _, ok := i.peers[k]; !ok {
		return notFoundf("peer %s not found on %s", k, i.name)
	}
	next := i.peers.clone()
	delete(next, k)
	_, err := i.commit(next)
	return err
}

// syncPeers makes want the whole peer set, atomically and idempotently.
func (i *iface) syncPeers(want peerSet) (agentapi.SyncResult, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	res := agentapi.SyncResult{Status: "success"}
	for k, w := range want {
		switch cur, ok := i.peers[k]; {
		case !ok:
			res.Added++
		case !cur.equal(w):
			res.Updated++
		default:
			res.Unchanged++
		}
	}
	for k := range i.peers {
		if _, ok := want[k]; !ok {
			res.Removed++
		}
	}
	if _, err := i.commit(want); err != nil {
		return agentapi.SyncResult{}, err
	}
	return res, nil
}

// restore brings the saved peers back onto a fresh device at start.
func (i *iface) restore() error {
	set, err := i.state.load(i.name)
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if len(set) > 0 {
		if err := i.tun.Configure(diff(peerSet{}, set)); err != nil {
			return fmt.Errorf("restoring %d peers on %s: %w", len(set), i.name, err)
		}
	}
	i.peers = set
	i.log.Info("restored peers", "iface", i.name, "peers", len(set))
	return nil
}

// dump reads the device's view of the peers, in the seed's wire shape.
func (i *iface) dump() ([]agentapi.Peer, error) {
	peers, err := i.tun.Peers()
	if err != nil {
		return nil, fmt.Errorf("reading peers of %s: %w", i.name, err)
	}
	out := make([]agentapi.Peer, 0, len(peers))
	for _, p := range peers {
		out = append(out, wirePeer(p))
	}
	return out, nil
}

func (i *iface) peer(k wgtypes.Key) (agentapi.Peer, error) {
	peers, err := i.tun.Peers()
	if err != nil {
		return agentapi.Peer{}, fmt.Errorf("reading peers of %s: %w", i.name, err)
	}
	for _, p := range peers {
		if p.PublicKey == k {
			return wirePeer(p), nil
		}
	}
	return agentapi.Peer{}, notFoundf("peer %s not found on %s", k, i.name)
}

func (i *iface) peerCount() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.peers)
}

func (i *iface) info(full bool) agentapi.InterfaceInfo {
	info := agentapi.InterfaceInfo{
		Name:       i.name,
		Mode:       string(i.tun.Mode()),
		PublicKey:  i.tun.PublicKey().String(),
		ListenPort: i.tun.ListenPort(),
		PeerCount:  i.peerCount(),
	}
	if full {
		info.Addresses = prefixStrings(i.tun.Addresses())
		info.MTU = i.tun.MTU()
	}
	return info
}

// wirePeer converts a device peer to the dump shape. The preshared key is
// never put on the wire.
func wirePeer(p wgtypes.Peer) agentapi.Peer {
	out := agentapi.Peer{
		PublicKey:           p.PublicKey.String(),
		AllowedIPs:          make([]string, 0, len(p.AllowedIPs)),
		TransferRx:          p.ReceiveBytes,
		TransferTx:          p.TransmitBytes,
		PersistentKeepalive: int(p.PersistentKeepaliveInterval.Seconds()),
	}
	if p.Endpoint != nil {
		ap := p.Endpoint.AddrPort()
		e := netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
		out.Endpoint = &e
	}
	for _, a := range p.AllowedIPs {
		out.AllowedIPs = append(out.AllowedIPs, a.String())
	}
	if !p.LastHandshakeTime.IsZero() {
		ts := p.LastHandshakeTime.Unix()
		out.LatestHandshake = &ts
	}
	return out
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}
