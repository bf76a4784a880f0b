package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Leader is this controller replica in the election of the one that polls
// and reconciles; *leader.Elector satisfies it.
type Leader interface {
	// Name is the replica's name.
	Name() string
	// Leading reports whether the replica leads now.
	Leading() bool
}

// leaderCollector reports whether this replica leads, as
// wgfleet_controller_leader{replica}: 1 on the leader, 0 on the others.
type leaderCollector struct {
	l    Leader
	desc *prometheus.Desc
}

func newLeaderCollector(l Leader) *leaderCollector {
	return &leaderCollector{l: l, desc: prometheus.NewDesc("wgfleet_controller_leader",
		"1 when this controller replica leads (polls and reconciles the agents), 0 when another one does.", []string{"replica"}, nil)}
}

func (c *leaderCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *leaderCollector) Collect(ch chan<- prometheus.Metric) {
	v := 0.0
	if c.l.Leading() {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, c.l.Name())
}
