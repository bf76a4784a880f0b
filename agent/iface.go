package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/tunnel"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// maxBatch bounds how many queued changes one commit takes.
const maxBatch = 256

// errShuttingDown answers changes still queued when the agent stops.
var errShuttingDown = errors.New("agent is shutting down")

// iface is one managed interface: its tunnel, its desired peers and their
// store on disk.
//
// Changes are group-committed: each request validates its own input, then
// queues a mutation; one committer goroutine takes every queued mutation,
// checks each against the peer set as the mutations before it left it
// (a mutation that does not fit is answered with its error and leaves no
// trace), applies what the surviving batch changed to the device in one
// UAPI set and appends it to the journal as one record, fsynced. A request
// is answered only after its change is on the device and on disk. Under
// load this turns N fsyncs into one. When the batch fails (the device
// refuses one of its changes), nothing of it is kept and its changes are
// committed again one at a time, so a bad change fails alone.
//
// A batch costs what it changes, not the size of the set: mutations work
// on the live peerTable, whose undo log takes a failed batch back, and
// the journal is compacted (the whole set written as a snapshot) by the
// committer after it answered, once the journal outgrows the snapshot.
//
// When the committer is idle (nothing queued, nothing in hand), a change
// is committed in its request's own goroutine instead, as a batch of one,
// through the same commitBatch: at a trickle of changes (a controller's,
// or 100 a second on a node carrying traffic) this spares each change two
// goroutine handoffs and the wakeups of the scheduler that go with them.
// Whoever commits holds commitMu, so batches never overlap; under load
// the committer is busy and changes queue and batch as before.
type iface struct {
	name  string
	tun   *tunnel.Tunnel
	store *peerStore
	log   *slog.Logger

	ops  chan *op
	quit chan struct{}
	done chan struct{}

	// commitMu is held by whoever commits a batch (the committer, or a
	// request's goroutine when the committer is idle: submit) and by
	// compaction, and by stop while it closes the store: batches, the
	// journal's appends and its compaction never overlap. Lock order:
	// commitMu, then mu.
	commitMu sync.Mutex
	// idle is set while the committer waits for a change with none in
	// hand: only then may a request commit its change itself.
	idle atomic.Bool
	// compactNow asks the committer to compact the journal after a
	// batch a request committed itself (which is answered first).
	compactNow chan struct{}

	// mu guards table. Whoever commits holds it while it applies and
	// saves a batch, so readers never see a set that is not on the device
	// and on disk. Only a holder of commitMu changes table, so the
	// committer reads it without mu to compact, holding commitMu.
	//
	// Lock order: mu, then the tunnel's Tunnel.mu (taken inside
	// tun.Configure and tun.Peers). The tunnel never calls back into the
	// agent, so the reverse never happens.
	mu    sync.Mutex
	table *peerTable

	// counts are the committer's counters, read by the metrics collector.
	counts commitCounters

	// trim returns removed peers' memory to the system (memtrim.go).
	trim *memTrim

	// dumps keeps what the last dump read and encoded for the next
	// (dumpcache.go).
	dumps dumpCache

	// upMu serializes enable and disable; disabled records the last.
	upMu     sync.Mutex
	disabled disabledFile
}

// op is one queued change. mutate checks the change against work and, only
// if it fits, changes work; it must leave work untouched when it fails. It
// may run twice when its batch falls back to one change at a time.
// ticket, if not nil, is the request's record against replays, which the
// journal append of its change carries (replayTicket).
type op struct {
	mutate func(work *peerTable) error
	ticket *replayTicket
	result chan error
}

// newIface makes the interface with the peers set, which are on tun and
// in store already.
func newIface(name string, tun *tunnel.Tunnel, store *peerStore, set peerSet, log *slog.Logger) *iface {
	return &iface{
		name: name, tun: tun, store: store, log: log, table: newPeerTable(set), trim: newMemTrim(),
		ops: make(chan *op), quit: make(chan struct{}), done: make(chan struct{}),
		compactNow: make(chan struct{}, 1),
	}
}

// start runs the committer until stop.
func (i *iface) start() { go i.commitLoop() }

// stop ends the committer after the batch in progress (its own, or a
// request's that committed itself); changes not yet taken are refused. It
// waits, closes the store and is idempotent through Agent.Close.
func (i *iface) stop() {
	close(i.quit)
	<-i.done
	i.commitMu.Lock() // a request committing its change itself finishes first
	defer i.commitMu.Unlock()
	if err := i.store.close(); err != nil {
		i.log.Error("closing the peer journal", "iface", i.name, "err", err)
	}
}

// submit commits one change and returns once it is on the device and on
// disk (or refused). When the committer is idle the change is committed
// here, in the caller's goroutine, as a batch of one; otherwise it is
// queued for the committer, which batches it with whatever else is
// queued.
func (i *iface) submit(ticket *replayTicket, mutate func(work *peerTable) error) error {
	o := &op{mutate: mutate, ticket: ticket, result: make(chan error, 1)}
	if i.idle.Load() && i.commitMu.TryLock() {
		select {
		case <-i.quit: // stopping: the store may be closed already
			i.commitMu.Unlock()
			return errShuttingDown
		default:
		}
		i.commitBatch([]*op{o})
		i.counts.direct.Add(1)
		compact := i.store.needsCompaction()
		i.commitMu.Unlock()
		if compact { // the committer compacts; this change is answered now
			select {
			case i.compactNow <- struct{}{}:
			default: // already asked
			}
		}
		return <-o.result
	}
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
		i.idle.Store(true)
		select {
		case first = <-i.ops:
		case <-i.compactNow:
		case <-i.quit:
			i.idle.Store(false)
			return
		}
		i.idle.Store(false)
		// Taken before the batch is filled: changes that arrive while a
		// request commits its own join this batch.
		i.commitMu.Lock()
		if first != nil {
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
		if i.store.needsCompaction() {
			i.compact()
		}
		i.commitMu.Unlock()
	}
}

// compact writes the whole set as the store's snapshot, after the batch
// that made the journal outgrow it was answered. Failing is not fatal:
// the journal still holds everything, and the next batch tries again. The
// caller holds commitMu.
func (i *iface) compact() {
	start := time.Now()
	if err := i.store.compact(i.table.peers); err != nil {
		i.log.Error("compacting the peer journal", "iface", i.name, "err", err)
		return
	}
	i.log.Debug("peer journal compacted", "iface", i.name, "peers", i.table.len(), "duration", time.Since(start))
}

func (i *iface) commitBatch(batch []*op) {
	i.mu.Lock()
	defer i.mu.Unlock()
	work := i.table
	var accepted []*op
	refused := make(map[*op]error)
	for _, o := range batch {
		m := work.mark()
		if err := o.mutate(work); err != nil {
			work.rollbackTo(m) // a mutation leaves nothing when it fails; make sure
			refused[o] = err
			continue
		}
		accepted = append(accepted, o)
	}
	var err error
	if len(accepted) > 0 {
		err = i.commit(accepted)
		i.counts.batches.Add(1)
	} else {
		work.keep()
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
	if err := o.mutate(i.table); err != nil {
		i.table.rollback()
		i.counts.refused.Add(1)
		o.result <- err
		return
	}
	err := i.commit([]*op{o})
	i.counts.batches.Add(1)
	if err != nil {
		i.counts.failed.Add(1)
	} else {
		i.counts.applied.Add(1)
	}
	o.result <- err
}

// commit keeps the batch of ops in the table: it applies what the batch
// changed to the device in one UAPI set, then appends the batch to the
// journal with its requests' replay records, one write and one fsync. If
// any of it fails, the device and the table are put back as they were, so
// nothing is half-applied. A batch that changes nothing writes nothing:
// its requests' records go to the replay log when they are answered
// (replayTicket.durable). The caller holds mu.
func (i *iface) commit(ops []*op) error {
	cs := i.table.changes()
	if len(cs) == 0 {
		i.table.keep()
		return nil
	}
	if err := i.tun.Configure(apply(cs)); err != nil {
		i.table.rollback()
		return fmt.Errorf("applying %d peer changes to %s: %w", len(cs), i.name, err)
	}
	if err := i.store.append(cs, records(ops)); err != nil {
		if rerr := i.tun.Configure(revert(cs)); rerr != nil {
			i.log.Error("rolling back device after failed save", "iface", i.name, "err", rerr)
		}
		i.table.rollback()
		return fmt.Errorf("saving peer state of %s: %w", i.name, err)
	}
	journaled(ops)
	i.table.keep()
	i.trim.removed(removals(cs), i.table.len())
	return nil
}

// addPeer, updatePeer and removePeer queue one change and return once it
// is saved (or refused); ticket is as for op.
func (i *iface) addPeer(conf peerConf, ticket *replayTicket) error {
	return i.submit(ticket, func(work *peerTable) error {
		if _, ok := work.get(conf.Key); ok {
			return conflictf("peer %s already exists on %s", conf.Key, i.name)
		}
		if work.len() >= tunnel.MaxPeers {
			return conflictf("%s holds %d peers, the most a wireguard-go device takes: spread peers over more interfaces or nodes", i.name, tunnel.MaxPeers)
		}
		if err := work.overlapsWith(conf); err != nil {
			return err
		}
		work.put(conf)
		return nil
	})
}

func (i *iface) updatePeer(k wgtypes.Key, req agentapi.UpdatePeerRequest, ticket *replayTicket) error {
	return i.submit(ticket, func(work *peerTable) error {
		cur, ok := work.get(k)
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
		work.put(conf)
		return nil
	})
}

func (i *iface) removePeer(k wgtypes.Key, ticket *replayTicket) error {
	return i.submit(ticket, func(work *peerTable) error {
		if _, ok := work.get(k); !ok {
			return notFoundf("peer %s not found on %s", k, i.name)
		}
		work.remove(k)
		return nil
	})
}

// syncPeers makes want the whole peer set, atomically and idempotently.
func (i *iface) syncPeers(want peerSet) (agentapi.SyncResult, error) {
	if err := want.checkOverlap(); err != nil {
		return agentapi.SyncResult{}, err
	}
	var res agentapi.SyncResult
	err := i.submit(nil, func(work *peerTable) error {
		res = agentapi.SyncResult{Status: "success"}
		var gone []wgtypes.Key
		for k := range work.peers {
			if _, ok := want[k]; !ok {
				gone = append(gone, k)
			}
		}
		for _, k := range gone {
			res.Removed++
			work.remove(k)
		}
		for k, w := range want {
			switch cur, ok := work.get(k); {
			case !ok:
				res.Added++
				work.put(w)
			case !cur.equal(w):
				res.Updated++
				work.put(w)
			default:
				res.Unchanged++
			}
		}
		return nil
	})
	return res, err
}

// restoreIface opens the interface's peer store in dir and brings its
// peers back onto tun, a fresh device, at start. The committer is not
// running yet (start runs it).
func restoreIface(name, dir string, tun *tunnel.Tunnel, log *slog.Logger) (*iface, error) {
	store, set, err := openPeerStore(dir, name, log)
	if err != nil {
		return nil, err
	}
	if len(set) > 0 {
		if err := tun.Configure(diff(peerSet{}, set)); err != nil {
			store.close()
			return nil, fmt.Errorf("restoring %d peers on %s: %w", len(set), name, err)
		}
	}
	log.Info("restored peers", "iface", name, "peers", len(set))
	return newIface(name, tun, store, set, log), nil
}

// peer reads the device's view of one peer, in the seed's wire shape.
func (i *iface) peer(k wgtypes.Key) (agentapi.Peer, error) {
	var out *agentapi.Peer
	err := i.tun.EachPeer(func(v *tunnel.PeerView) error {
		if v.PublicKey == k {
			p := wirePeer(v.Peer())
			out = &p
		}
		return nil
	})
	if err != nil {
		return agentapi.Peer{}, fmt.Errorf("reading peers of %s: %w", i.name, err)
	}
	if out == nil {
		return agentapi.Peer{}, notFoundf("peer %s not found on %s", k, i.name)
	}
	return *out, nil
}

func (i *iface) peerCount() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.table.len()
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
		out.AllowedIPs = append(out.AllowedIPs, ipNetString(a))
	}
	if !p.LastHandshakeTime.IsZero() {
		ts := p.LastHandshakeTime.Unix()
		out.LatestHandshake = &ts
	}
	return out
}

// ipNetString is n.String() for the canonical prefixes the device
// reports, through netip (a dump writes one per allowed IP).
func ipNetString(n net.IPNet) string {
	a, ok := netip.AddrFromSlice(n.IP)
	ones, bits := n.Mask.Size()
	if !ok || bits != a.BitLen() {
		return n.String()
	}
	return netip.PrefixFrom(a, ones).String()
}

func prefixStrings(ps []netip.Prefix) []string {
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.String())
	}
	return out
}
