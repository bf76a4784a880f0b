package agent

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/tunnel/forward"
)

// activeWindow is how recent a peer's handshake must be for it to count as
// active: WireGuard renews a session's handshake every 2 minutes while
// traffic flows.
const activeWindow = 3 * time.Minute

// commitCounters count what an interface's committer did since the agent
// started.
type commitCounters struct {
	batches atomic.Uint64 // batches of accepted changes committed together
	applied atomic.Uint64 // changes on the device and on disk
	refused atomic.Uint64 // changes that did not fit the peer set (conflict, not found, overlap)
	failed  atomic.Uint64 // accepted changes whose commit to the device or the state file failed
	direct  atomic.Uint64 // changes a request committed itself, the committer being idle (iface.submit)
}

// promHandler serves the agent's collector and the process's Go and
// process collectors, in a registry of the agent's own, as Prometheus
// text. New makes it once, after the interfaces; the metrics listener and
// the signed GET /v1/metrics both serve it.
func (a *Agent) promHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		newMetricsCollector(a),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	})
}

// metricsHandler serves GET /metrics on the metrics listener. It
// authenticates nothing; the listener is meant for a private address.
func (a *Agent) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.prom)
	return mux
}

// forwardMetric is one counter or gauge of forward.Stats.
type forwardMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(forward.Stats) float64
}

// metricsCollector reads the agent's interfaces at every scrape. Traffic is
// summed over each interface's peers (a label per peer would grow without
// bound); no key but an interface's public key is ever exposed.
type metricsCollector struct {
	a *Agent

	info, peers, active, rx, tx, scrapeError *prometheus.Desc
	batches, applied, refused, failed        *prometheus.Desc
	forward                                  []forwardMetric

	// traffic keeps each interface's summed byte counters from going down
	// when a peer is removed; its keys are fixed after construction.
	traffic map[string]*trafficTotals
}

// trafficTotals makes a monotonic sum of per-peer byte counters: a peer
// that disappears (or whose counters went back, because it was removed and
// added again) leaves what it had at the last scrape in retired. Scrapes
// may run at once; mu serializes them.
type trafficTotals struct {
	mu                   sync.Mutex
	last                 map[wgtypes.Key][2]int64 // rx, tx at the last scrape
	retiredRx, retiredTx int64
}

func newMetricsCollector(a *Agent) *metricsCollector {
	iface := []string{"iface"}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		if len(labels) == 0 {
			labels = iface
		}
		return prometheus.NewDesc(name, help, labels, nil)
	}
	c := &metricsCollector{
		a:           a,
		info:        desc("wgagent_interface_info", "The interface's data plane mode and public key; always 1.", "iface", "mode", "public_key"),
		peers:       desc("wgagent_interface_peers", "Peers configured on the interface's device.", "iface", "mode"),
		active:      desc("wgagent_interface_active_peers", "Peers of the interface with a handshake in the last 3 minutes."),
		rx:          desc("wgagent_peer_receive_bytes_total", "Bytes received from the interface's peers, summed over peers; a removed peer's bytes stay counted as of the last scrape."),
		tx:          desc("wgagent_peer_transmit_bytes_total", "Bytes sent to the interface's peers, summed over peers; a removed peer's bytes stay counted as of the last scrape."),
		scrapeError: desc("wgagent_interface_scrape_error", "1 when the interface's device could not be read for this scrape (its peer metrics are then missing)."),
		batches:     desc("wgagent_commit_batches_total", "Group commits: batches of accepted peer changes applied to the device and saved together."),
		applied:     desc("wgagent_commits_total", "Peer changes applied to the device and saved."),
		refused:     desc("wgagent_commit_refused_total", "Peer changes refused because they did not fit the peer set (conflict, not found, overlapping allowed IPs)."),
		failed:      desc("wgagent_commit_failed_total", "Accepted peer changes whose commit to the device or the state file failed."),
		traffic:     make(map[string]*trafficTotals, len(a.order)),
	}
	counter := func(name, help string, v func(forward.Stats) uint64) {
		c.forward = append(c.forward, forwardMetric{desc(name, help), prometheus.CounterValue,
			func(s forward.Stats) float64 { return float64(v(s)) }})
	}
	gauge := func(name, help string, v func(forward.Stats) int64) {
		c.forward = append(c.forward, forwardMetric{desc(name, help), prometheus.GaugeValue,
			func(s forward.Stats) float64 { return float64(v(s)) }})
	}
	gauge("wgagent_forward_tcp_active", "Netstack: TCP connections of peers being relayed through host sockets now.", func(s forward.Stats) int64 { return s.TCPActive })
	counter("wgagent_forward_tcp_opened_total", "Netstack: TCP connections relayed (DNS over TCP included).", func(s forward.Stats) uint64 { return s.TCPOpened })
	counter("wgagent_forward_tcp_refused_total", "Netstack: TCP connections refused by the egress policy.", func(s forward.Stats) uint64 { return s.TCPRefused })
	counter("wgagent_forward_tcp_limited_total", "Netstack: TCP connections refused because max-tcp-conns were open.", func(s forward.Stats) uint64 { return s.TCPLimited })
	counter("wgagent_forward_tcp_failed_total", "Netstack: TCP connections whose destination could not be reached.", func(s forward.Stats) uint64 { return s.TCPFailed })
	counter("wgagent_forward_tcp_idle_closed_total", "Netstack: TCP connections closed by the idle timeout.", func(s forward.Stats) uint64 { return s.TCPIdle })
	gauge("wgagent_forward_udp_active", "Netstack: UDP flows of peers being relayed through host sockets now.", func(s forward.Stats) int64 { return s.UDPActive })
	counter("wgagent_forward_udp_opened_total", "Netstack: UDP flows relayed (DNS flows included).", func(s forward.Stats) uint64 { return s.UDPOpened })
	counter("wgagent_forward_udp_refused_total", "Netstack: UDP datagrams refused by the egress policy.", func(s forward.Stats) uint64 { return s.UDPRefused })
	counter("wgagent_forward_udp_limited_total", "Netstack: UDP datagrams dropped because max-udp-flows were open.", func(s forward.Stats) uint64 { return s.UDPLimited })
	counter("wgagent_forward_udp_failed_total", "Netstack: UDP flows whose host socket could not be opened.", func(s forward.Stats) uint64 { return s.UDPFailed })
	counter("wgagent_forward_udp_idle_closed_total", "Netstack: UDP flows closed by the idle timeout.", func(s forward.Stats) uint64 { return s.UDPIdle })
	counter("wgagent_forward_ping_answered_total", "Netstack: ICMP echo requests answered by their destination.", func(s forward.Stats) uint64 { return s.PingAnswered })
	counter("wgagent_forward_ping_unanswered_total", "Netstack: ICMP echo requests sent (or not allowed by the host) but not answered.", func(s forward.Stats) uint64 { return s.PingUnanswered })
	counter("wgagent_forward_ping_refused_total", "Netstack: ICMP echo requests refused by the egress policy.", func(s forward.Stats) uint64 { return s.PingRefused })
	counter("wgagent_forward_dns_queries_total", "Netstack: DNS queries (UDP) and connections (TCP) to the interface's address.", func(s forward.Stats) uint64 { return s.DNSQueries })
	counter("wgagent_forward_dns_failed_total", "Netstack: DNS queries no resolver answered.", func(s forward.Stats) uint64 { return s.DNSFailed })
	counter("wgagent_forward_hub_packets_total", "Netstack: packets routed from one peer to another.", func(s forward.Stats) uint64 { return s.HubPackets })
	counter("wgagent_forward_hub_refused_total", "Netstack: packets between peers refused by the egress policy.", func(s forward.Stats) uint64 { return s.HubRefused })
	counter("wgagent_forward_dropped_packets_total", "Netstack: packets nothing could be done with (multicast, other protocols, full queues).", func(s forward.Stats) uint64 { return s.Dropped })
	for _, name := range a.order {
		c.traffic[name] = &trafficTotals{last: map[wgtypes.Key][2]int64{}}
	}
	return c
}

func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.info, c.peers, c.active, c.rx, c.tx, c.scrapeError,
		c.batches, c.applied, c.refused, c.failed} {
		ch <- d
	}
	for _, f := range c.forward {
		ch <- f.desc
	}
}

func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, name := range c.a.order {
		i := c.a.ifaces[name]
		mode := string(i.tun.Mode()) // a label
		send := func(d *prometheus.Desc, kind prometheus.ValueType, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, kind, v, append([]string{name}, labels...)...)
		}
		send(c.info, prometheus.GaugeValue, 1, mode, i.tun.PublicKey().String())
		send(c.batches, prometheus.CounterValue, float64(i.counts.batches.Load()))
		send(c.applied, prometheus.CounterValue, float64(i.counts.applied.Load()))
		send(c.refused, prometheus.CounterValue, float64(i.counts.refused.Load()))
		send(c.failed, prometheus.CounterValue, float64(i.counts.failed.Load()))
		if f, ok := c.a.fwds[name]; ok {
			s := f.Stats()
			for _, m := range c.forward {
				send(m.desc, m.kind, m.value(s))
			}
		}
		peers, err := i.tun.Peers()
		if err != nil {
			c.a.log.Warn("metrics: reading the device", "iface", name, "err", err)
			send(c.scrapeError, prometheus.GaugeValue, 1)
			continue
		}
		send(c.scrapeError, prometheus.GaugeValue, 0)
		active := 0
		for _, p := range peers {
			if !p.LastHandshakeTime.IsZero() && now.Sub(p.LastHandshakeTime) < activeWindow {
				active++
			}
		}
		rx, tx := c.traffic[name].add(peers)
		send(c.peers, prometheus.GaugeValue, float64(len(peers)), mode)
		send(c.active, prometheus.GaugeValue, float64(active))
		send(c.rx, prometheus.CounterValue, float64(rx))
		send(c.tx, prometheus.CounterValue, float64(tx))
	}
}

// add records the peers' counters and returns the interface's totals,
// those of peers gone since included.
func (t *trafficTotals) add(peers []wgtypes.Peer) (rx, tx int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	seen := make(map[wgtypes.Key][2]int64, len(peers))
	for _, p := range peers {
		cur := [2]int64{p.ReceiveBytes, p.TransmitBytes}
		if prev, ok := t.last[p.PublicKey]; ok && (cur[0] < prev[0] || cur[1] < prev[1]) {
			t.retiredRx += prev[0]
			t.retiredTx += prev[1]
		}
		seen[p.PublicKey] = cur
		rx += cur[0]
		tx += cur[1]
	}
	for k, prev := range t.last {
		if _, ok := seen[k]; !ok {
			t.retiredRx += prev[0]
			t.retiredTx += prev[1]
		}
	}
	t.last = seen
	return rx + t.retiredRx, tx + t.retiredTx
}
