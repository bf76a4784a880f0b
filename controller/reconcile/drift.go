package reconcile

import (
	"cmp"
	"slices"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/store"
)

// DriftKind names how one peer differs between the database and the agent.
type DriftKind string

const (
	// DriftMissing: desired, but not on the agent.
	DriftMissing DriftKind = "missing"
	// DriftUnknown: on the agent, but not desired: added by hand, deleted
	// from the database, or restricted (kept in the database, off the
	// agent).
	DriftUnknown DriftKind = "unknown"
	// DriftDifferent: on the agent with other allowed IPs, keepalive or
	// preshared key; Fields says which.
	DriftDifferent DriftKind = "different"
)

// Field names in Drift.Fields.
const (
	FieldAllowedIPs   = "allowed_ips"
	FieldKeepalive    = "persistent_keepalive"
	FieldPresharedKey = "preshared_key"
)

// PeerState is the comparable part of a peer, without any key but the
// public one (which is in Drift). In an Actual state HasPresharedKey is
// false unless the agent's dump carries preshared keys (ours never does;
// the seed's reference agent does).
type PeerState struct {
	AllowedIPs      []string `json:"allowed_ips"`
	Keepalive       int      `json:"persistent_keepalive"`
	HasPresharedKey bool     `json:"has_preshared_key"`
}

// Drift is one difference between a node's desired and actual peers.
//
// Pending marks a difference the controller itself has not finished: a
// change in the database the agent has not confirmed yet (the peer's sync
// state is not "applied"), or a peer the controller deleted and the agent
// still holds. The others are out-of-band drift: somebody changed the
// agent, or the agent lost its state.
//
// Preshared keys are compared when the agent's dump carries them (a peer
// in it with a preshared key, now or before, shows it does). When it does
// not (our agent), a peer whose change is pending and whose visible fields
// already match is reported as "different" in FieldPresharedKey, since
// only sending it again makes sure; a preshared key changed on the node
// by hand is not seen then.
//
// Reason, when set, says in words why the controller cannot repair this
// difference on this agent ("this agent cannot address keys containing
// '/'"): it stays until the agent changes.
type Drift struct {
	Kind      DriftKind  `json:"kind"`
	PublicKey string     `json:"public_key"`
	PeerID    int64      `json:"peer_id,omitempty"`
	PeerName  string     `json:"peer_name,omitempty"`
	Fields    []string   `json:"fields,omitempty"`
	Pending   bool       `json:"pending,omitempty"`
	Desired   *PeerState `json:"desired,omitempty"`
	Actual    *PeerState `json:"actual,omitempty"`
	// Problem, when set, says why the controller does not send this peer
	// to the agent: its key is one no peer may hold (see screen).
	Problem string `json:"problem,omitempty"`
	// Reason, when set, says why the controller cannot repair this
	// difference on this agent (see the type's doc).
	Reason string `json:"reason,omitempty"`
}

// item is one difference with what is needed to act on it.
type item struct {
	Drift
	key  wgtypes.Key
	peer *store.Peer // the database's peer; nil for one it does not know
	want peerConf    // the desired configuration, for missing and different
	// blind marks a "different" whose FieldPresharedKey was added only
	// because the dump cannot show the preshared key.
	blind bool
}

// comparison is the outcome of comparing one node's desired and actual
// peers.
type comparison struct {
	items []*item
	// settled are peers whose change is pending but whose desired state
	// already holds on the agent (a restricted peer that is not there):
	// they only need marking as applied.
	settled []*store.Peer
	// desired is every desired configuration, in public key order, for a
	// replace-all.
	desired []peerConf
	// desiredKeys and actualKeys are the two key sets.
	desiredKeys, actualKeys map[wgtypes.Key]bool
	// invalid counts agent peers whose public key did not parse; they can
	// be neither compared nor removed.
	invalid int
	// showsPSK reports whether the dump was taken to carry preshared keys.
	showsPSK bool
	// actual is the dump compared.
	actual []agentapi.Peer
}

// compare computes the differences between peers (every database peer of
// the node) and actual (the agent's peers on iface). managed holds the
// keys the controller knows it put on the agent, so a key there that is no
// longer in the database is a pending removal and not a stranger.
// showsPSK says the agent was seen to carry preshared keys in its dumps
// before; a peer in actual with one shows it too. Then preshared keys are
// compared, a missing one in actual meaning none.
func compare(iface string, peers []store.Peer, actual []agentapi.Peer, managed map[wgtypes.Key]bool, showsPSK bool) comparison {
	c := comparison{desiredKeys: make(map[wgtypes.Key]bool), actualKeys: make(map[wgtypes.Key]bool, len(actual)), showsPSK: showsPSK, actual: actual}
	for _, ap := range actual {
		if ap.PresharedKey != nil {
			c.showsPSK = true
		}
	}
	known := make(map[wgtypes.Key]*store.Peer, len(peers))
	for i := range peers {
		p := &peers[i]
		if p.Iface != iface {
			continue
		}
		known[p.PublicKey] = p
		if p.OnNode() {
			c.desiredKeys[p.PublicKey] = true
			c.desired = append(c.desired, desiredConf(p))
		}
	}
	slices.SortFunc(c.desired, func(a, b peerConf) int { return cmp.Compare(string(a.key[:]), string(b.key[:])) })

	got := make(map[wgtypes.Key]peerConf, len(actual))
	for _, ap := range actual {
		s, ok := actualConf(ap, c.showsPSK)
		if !ok {
			c.invalid++
			continue
		}
		got[s.key] = s
		c.actualKeys[s.key] = true
	}

	for i := range peers {
		p := &peers[i]
		if p.Iface != iface {
			continue
		}
		pending := p.SyncState != store.SyncApplied
		a, onAgent := got[p.PublicKey]
		switch {
		case !p.OnNode() && onAgent:
			c.items = append(c.items, &item{
				Drift: Drift{Kind: DriftUnknown, PublicKey: p.PublicKey.String(), PeerID: p.ID, PeerName: p.Name,
					Pending: pending, Actual: a.state()},
				key: p.PublicKey, peer: p,
			})
		case !p.OnNode():
			if pending {
				c.settled = append(c.settled, p)
			}
		case !onAgent:
			want := desiredConf(p)
			c.items = append(c.items, &item{
				Drift: Drift{Kind: DriftMissing, PublicKey: p.PublicKey.String(), PeerID: p.ID, PeerName: p.Name,
					Pending: pending, Desired: want.state()},
				key: p.PublicKey, peer: p, want: want,
			})
		default:
			want := desiredConf(p)
			fields := observableDiff(want, a, c.showsPSK)
			blind := false
			switch {
			case len(fields) == 0 && !pending:
				continue
			case len(fields) == 0 && c.showsPSK:
				// Pending, and the dump shows it holds already.
				c.settled = append(c.settled, p)
				continue
			case pending && !c.showsPSK:
				// The preshared key may be what changed; only sending
				// it again makes sure.
				fields = append(fields, FieldPresharedKey)
				blind = true
			}
			c.items = append(c.items, &item{
				Drift: Drift{Kind: DriftDifferent, PublicKey: p.PublicKey.String(), PeerID: p.ID, PeerName: p.Name,
					Fields: fields, Pending: pending, Desired: want.state(), Actual: a.state()},
				key: p.PublicKey, peer: p, want: want, blind: blind,
			})
		}
	}
	for k, a := range got {
		if known[k] != nil {
			continue
		}
		c.items = append(c.items, &item{
			Drift: Drift{Kind: DriftUnknown, PublicKey: k.String(), Pending: managed[k], Actual: a.state()},
			key:   k,
		})
	}
	slices.SortFunc(c.items, func(a, b *item) int {
		if x := cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)); x != 0 {
			return x
		}
		return cmp.Compare(a.PublicKey, b.PublicKey)
	})
	return c
}

func kindOrder(k DriftKind) int {
	switch k {
	case DriftMissing:
		return 0
	case DriftUnknown:
		return 1
	}
	return 2
}

// drifts returns the reportable differences; never nil.
func (c comparison) drifts() []Drift {
	out := make([]Drift, 0, len(c.items))
	for _, it := range c.items {
		out = append(out, it.Drift)
	}
	return out
}
