package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// maxBatch bounds how many queued changes one commit takes.
const maxBatch = 256

// errShuttingDown answers changes still queued when the agent stops.
var errShuttingDown = errors.New("agent is shutting down")

// iface is one managed interface: its tunnel, its desired peers and their
// state file.
//
// Changes are group-committed: each request validates its own input, then
// queues a mutation; one committer goroutine takes every queued mutation,
// checks each against the peer set as the mutations before it left it
// (a mutation that does not fit is answered with its error and leaves no
// trace), applies the surviving batch to the device in one UAPI set and
// saves the state file once. A request is answered only after its change
// is on the device and on disk. Under load this turns N fsyncs into one.
// When the batch fails (the device refuses one of its changes), nothing of
// it is kept and its changes are committed again one at a time, so a bad
// change fails alone.
type iface struct {
	name  string
	tun   *tunnel.Tunnel
	state stateFile
	log   *slog.Logger

	ops  chan *op
	quit chan struct{}
	done chan struct{}

	// mu guards peers. The committer holds it while it applies and saves a
	// batch, so readers never see a set that is not on the device and on
	// disk.
	//
	// Lock order: mu, then the tunnel's Tunnel.mu (taken inside
	// tun.Configure and tun.Peers). The tunnel never calls back into the
	// agent, so the reverse never happens.
	mu    sync.Mutex
	peers peerSet

	// counts are the committer's counters, read by the metrics collector.
	counts commitCounters

	// upMu serializes enable and disable; disabled records the last.
	upMu     sync.Mutex
	disabled disabledFile
}

// op is one queued change. mutate checks the change against work and, only
// if it fits, changes work; it must leave work untouched when it fails. It
// may run twice, on a fresh work each time, when its batch falls back to
// one change at a time.
type op struct {
	mutate func(work peerSet) error
	result chan error
}

func newIface(name string, tun *tunnel.Tunnel, state stateFile, log *slog.Logger) *iface {
	return &iface{
		name: name, tun: tun, state: state, log: log, peers: peerSet{},
		ops: make(chan *op), quit: make(chan struct{}), done: make(chan struct{}),
	}
}

// start runs the committer until stop.
func (i *iface) start() { go i.commitLoop() }

// stop ends the committer after the batch in progress; queued changes not
// yet taken are refused. It waits and is idempotent through Agent.Close.
func (i *iface) stop() {
	close(i.quit)
	<-i.done
}

func (i *iface) submit(mutate func(work peerSet) error) error {
	o := &op{mutate: mutate, result: make(chan error, 1)}
	select {
	case i.ops <- o:
		return <-o.result
	case <-i.quit:
		return errShuttingDown
	}
}

func (i *iface) commitLoop() {
	defer close(i.done)
	for {
		var first *op
		select {
		case first = <-i.ops:
		case <-i.quit:
			return
		}
		batch := []*op{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case o := <-i.ops:
				batch = append(batch, o)
			default:
				break fill
			}
		}
		i.commitBatch(batch)
	}
}

func (i *iface) commitBatch(batch []*op) {
	i.mu.Lock()
	defer i.mu.Unlock()
	work := i.peers.clone()
	var accepted []*op
	refused := make(map[*op]error)
	for _, o := range batch {
		if err := o.mutate(work); err != nil {
			refused[o] = err
			continue
		}
		accepted = append(accepted, o)
	}
	var err error
	if len(accepted) > 0 {
		err = i.commit(work)
		i.counts.batches.Add(1)
	}
	if err != nil && len(batch) > 1 {
		// One change the device refuses must not fail the others: nothing
		// of the batch was kept, so apply it again one change at a time,
		// the changes refused above included (a refusal may have been due
		// to a change that is now gone), and answer each on its own.
		i.log.Warn("group commit failed; applying its changes one at a time", "iface", i.name, "changes", len(batch), "err", err)
		for _, o := range batch {
			i.commitOne(o)
		}
		return
	}
	for _, o := range batch {
		if rerr, ok := refused[o]; ok {
			i.counts.refused.Add(1)
			o.result <- rerr
		}
	}
	if err != nil {
		i.counts.failed.Add(uint64(len(accepted)))
	} else {
		i.counts.applied.Add(uint64(len(accepted)))
	}
	for _, o := range accepted {
		o.result <- err
	}
	if err == nil && len(batch) > 1 {
		i.log.Debug("group commit", "iface", i.name, "changes", len(accepted), "refused", len(refused))
	}
}

// commitOne checks and commits o alone against the current peer set and
// answers it. The caller holds mu.
func (i *iface) commitOne(o *op) {
	work := i.peers.clone()
	if err := o.mutate(work); err != nil {
		i.counts.refused.Add(1)
		o.result <- err
		return
	}
	err := i.commit(work)
	i.counts.batches.Add(1)
	if err != nil {
		i.counts.failed.Add(1)
	} else {
		i.counts.applied.Add(1)
	}
	o.result <- err
}

// commit makes next the interface's peer set: it applies the difference to
// the device in one UAPI set, then saves the state file. If saving fails the
// device is put back as it was, so nothing is half-applied. The caller
// holds mu.
func (i *iface) commit(next peerSet) error {
	if err := next.checkOverlap(); err != nil {
		return err
	}
	d := diff(i.peers, next)
	if len(d) == 0 {
		return nil
	}
	if err := i.tun.Configure(d); err != nil {
		return fmt.Errorf("applying %d peer changes to %s: %w", len(d), i.name, err)
	}
	if err := i.state.save(i.name, next); err != nil {
		if rerr := i.tun.Configure(diff(next, i.peers)); rerr != nil {
			i.log.Error("rolling back device after failed save", "iface", i.name, "err", rerr)
		}
		return fmt.Errorf("saving peer state of %s: %w", i.name, err)
	}
	i.peers = next
	return nil
}

func (i *iface) addPeer(conf peerConf) error {
	return i.submit(func(work peerSet) error {
		if _, ok := work[conf.Key]; ok {
			return conflictf("peer %s already exists on %s", conf.Key, i.name)
		}
		if err := work.overlapsWith(conf); err != nil {
			return err
		}
		work[conf.Key] = conf
		return nil
	})
}

func (i *iface) updatePeer(k wgtypes.Key, req agentapi.UpdatePeerRequest) error {
	return i.submit(func(work peerSet) error {
		cur, ok := work[k]
		if !ok {
			return notFoundf("peer %s not found on %s", k, i.name)
		}
		conf, err := applyUpdate(cur, req)
		if err != nil {
			return err
		}
		if err := work.overlapsWith(conf); err != nil {
			return err
		}
		work[k] = conf
		return nil
	})
}

func (i *iface) removePeer(k wgtypes.Key) error {
	return i.submit(func(work peerSet) error {
		if _, ok := work[k]; !ok {
			return notFoundf("peer %s not found on %s", k, i.name)
		}
		delete(work, k)
		return nil
	})
}

// syncPeers makes want the whole peer set, atomically and idempotently.
func (i *iface) syncPeers(want peerSet) (agentapi.SyncResult, error) {
	if err := want.checkOverlap(); err != nil {
		return agentapi.SyncResult{}, err
	}
	var res agentapi.SyncResult
	err := i.submit(func(work peerSet) error {
		res = agentapi.SyncResult{Status: "success"}
		for k, w := range want {
			switch cur, ok := work[k]; {
			case !ok:
				res.Added++
			case !cur.equal(w):
				res.Updated++
			default:
				res.Unchanged++
			}
		}
		for k := range work {
			if _, ok := want[k]; !ok {
				res.Removed++
				delete(work, k)
			}
		}
		for k, w := range want {
			work[k] = w
		}
		return nil
	})
	return res, err
}

// restore brings the saved peers back onto a fresh device at start, before
// the committer runs.
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
		Mode:       i.tun.Mode(),
		PublicKey:  i.tun.PublicKey().String(),
		ListenPort: i.tun.ListenPort(),
		PeerCount:  i.peerCount(),
		Status:     i.upState(),
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
