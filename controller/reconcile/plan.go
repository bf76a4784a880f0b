package reconcile

import (
	"github.com/wgfleet/wgfleet/controller/store"
)

// plan is what one reconcile will do to an agent.
type plan struct {
	deletes, updates, adds []*item
	// settled peers are marked applied without any call.
	settled []*store.Peer
	// reported is drift the policy leaves alone.
	reported []*item
}

// makePlan decides, under policy, which differences to act on. With
// DriftRepair every difference is acted on. With DriftReport only the
// controller's own unfinished changes are (Drift.Pending: peers changed in
// the database since the agent last confirmed them, restricted peers still
// on the agent, peers the controller deleted); out-of-band drift is only
// reported: a stranger on the agent stays, and a confirmed peer the agent
// lost or changed is not pushed again.
func makePlan(c comparison, policy store.DriftPolicy) plan {
	p := plan{settled: c.settled}
	for _, it := range c.items {
		if policy == store.DriftReport && !it.Pending {
			p.reported = append(p.reported, it)
			continue
		}
		switch it.Kind {
		case DriftMissing:
			p.adds = append(p.adds, it)
		case DriftUnknown:
			p.deletes = append(p.deletes, it)
		case DriftDifferent:
			p.updates = append(p.updates, it)
		}
	}
	return p
}

// actions is the number of changes the plan makes on the agent.
func (p plan) actions() int { return len(p.deletes) + len(p.updates) + len(p.adds) }

// complete reports whether the plan makes the agent hold exactly the
// desired peers, so that one replace-all may stand for it.
func (p plan) complete() bool { return len(p.reported) == 0 }
