package metrics

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wgfleet/wgfleet/controller/store"
)

// Store is what the collector reads; *store.Store satisfies it.
type Store interface {
	ListNodes(ctx context.Context) ([]store.Node, error)
	ListAllPeers(ctx context.Context) ([]store.Peer, error)
}

var _ Store = (*store.Store)(nil)

// statuses are every node status, so each node has one series per status
// (1 for its current one, 0 for the others) and alerts can use them.
func statuses() []store.NodeStatus {
	return []store.NodeStatus{store.NodeUnknown, store.NodeOnline, store.NodeOffline, store.NodeError, store.NodeDisabled}
}

// syncStates likewise for peers.
func syncStates() []store.SyncState {
	return []store.SyncState{store.SyncPending, store.SyncApplied, store.SyncError}
}

// collector reads the store at every scrape.
type collector struct {
	st      Store
	log     *slog.Logger
	timeout time.Duration

	nodeStatus, nodePeers, nodeMaxPeers, desiredGen, ackedGen, drift, driftCurrent, failures,
	lastSeen, rx, tx, peersBySync, handshakeAge, scrapeErrors *prometheus.Desc
}

func newCollector(st Store, log *slog.Logger) *collector {
	node := []string{"node"}
	return &collector{
		st: st, log: log, timeout: 10 * time.Second,
		nodeStatus:   prometheus.NewDesc("wgfleet_node_status", "1 for the node's current status, 0 for the others.", []string{"node", "status"}, nil),
		nodePeers:    prometheus.NewDesc("wgfleet_node_peers", "Peers of the node in the desired state (restricted ones included).", node, nil),
		nodeMaxPeers: prometheus.NewDesc("wgfleet_node_max_peers", "The node's peer limit; 0 is unlimited.", node, nil),
		desiredGen:   prometheus.NewDesc("wgfleet_node_desired_generation", "Generation of the node's desired peers.", node, nil),
		ackedGen:     prometheus.NewDesc("wgfleet_node_acked_generation", "Generation the node's agent has acknowledged.", node, nil),
		drift:        prometheus.NewDesc("wgfleet_node_drift_total", "Times out-of-band drift was seen on the node.", node, nil),
		driftCurrent: prometheus.NewDesc("wgfleet_node_drift_current", "Out-of-band differences the node's agent still had after its last reconcile; 0 when it matched or was repaired.", node, nil),
		failures:     prometheus.NewDesc("wgfleet_node_consecutive_failures", "Polls of the node that failed in a row.", node, nil),
		lastSeen:     prometheus.NewDesc("wgfleet_node_last_seen_timestamp_seconds", "Last successful contact with the node's agent; 0 if never.", node, nil),
		rx:           prometheus.NewDesc("wgfleet_node_receive_bytes_total", "Bytes the node received from its peers, across counter resets.", node, nil),
		tx:           prometheus.NewDesc("wgfleet_node_transmit_bytes_total", "Bytes the node sent to its peers, across counter resets.", node, nil),
		peersBySync:  prometheus.NewDesc("wgfleet_node_peers_by_sync_state", "Peers of the node by whether their desired state reached it.", []string{"node", "sync_state"}, nil),
		handshakeAge: prometheus.NewDesc("wgfleet_node_active_peers", "Peers of the node with a handshake in the last 3 minutes.", node, nil),
		scrapeErrors: prometheus.NewDesc("wgfleet_scrape_error", "1 when the store could not be read for this scrape.", nil, nil),
	}
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.nodeStatus, c.nodePeers, c.nodeMaxPeers, c.desiredGen, c.ackedGen, c.drift,
		c.driftCurrent, c.failures, c.lastSeen, c.rx, c.tx, c.peersBySync, c.handshakeAge, c.scrapeErrors} {
		ch <- d
	}
}

type nodeTotals struct {
	peers, active int
	rx, tx        int64
	bySync        map[store.SyncState]int
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	nodes, err := c.st.ListNodes(ctx)
	var peers []store.Peer
	if err == nil {
		peers, err = c.st.ListAllPeers(ctx)
	}
	if err != nil {
		c.log.Warn("metrics: reading the store", "err", err)
		ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.GaugeValue, 1)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.scrapeErrors, prometheus.GaugeValue, 0)
	now := time.Now()
	totals := map[int64]*nodeTotals{}
	for _, p := range peers {
		t := totals[p.NodeID]
		if t == nil {
			t = &nodeTotals{bySync: map[store.SyncState]int{}}
			totals[p.NodeID] = t
		}
		t.peers++
		t.rx += p.RxTotal
		t.tx += p.TxTotal
		t.bySync[p.SyncState]++
		if !p.LastHandshake.IsZero() && now.Sub(p.LastHandshake) < 3*time.Minute {
			t.active++
		}
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
	}
	for _, n := range nodes {
		t := totals[n.ID]
		if t == nil {
			t = &nodeTotals{bySync: map[store.SyncState]int{}}
		}
		for _, s := range statuses() {
			v := 0.0
			if n.Status == s {
				v = 1
			}
			gauge(c.nodeStatus, v, n.Name, string(s))
		}
		gauge(c.nodePeers, float64(t.peers), n.Name)
		gauge(c.nodeMaxPeers, float64(n.MaxPeers), n.Name)
		gauge(c.desiredGen, float64(n.DesiredGeneration), n.Name)
		gauge(c.ackedGen, float64(n.AckedGeneration), n.Name)
		counter(c.drift, float64(n.DriftCount), n.Name)
		gauge(c.driftCurrent, float64(n.DriftCurrent), n.Name)
		gauge(c.failures, float64(n.ConsecutiveFailures), n.Name)
		seen := 0.0
		if !n.LastSeen.IsZero() {
			seen = float64(n.LastSeen.Unix())
		}
		gauge(c.lastSeen, seen, n.Name)
		counter(c.rx, float64(t.rx), n.Name)
		counter(c.tx, float64(t.tx), n.Name)
		gauge(c.handshakeAge, float64(t.active), n.Name)
		for _, s := range syncStates() {
			gauge(c.peersBySync, float64(t.bySync[s]), n.Name, string(s))
		}
	}
}
