package fleet

import (
	"strings"

	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/controller/store"
)

// nodeFromInput applies in to base and validates the result field by
// field, in the order of the JSON fields, returning the first problem as a
// *ValidationError. On create (base is the zero Node) the required fields
// are name, agent_url, secret and ip_pool_cidr, and absent ones take their
// defaults, but for an absent or empty endpoint, left "" for CreateNode to
// derive; on update an absent field keeps base's value, and an absent
// or empty secret keeps the stored one. changed lists the JSON names of
// the fields that were given and differ from base.
func nodeFromInput(base store.Node, in NodeInput, create bool) (n store.Node, changed []string, err error) {
	n = base
	if create {
		n.AuthType = store.AuthHMAC
		n.WGInterface = store.DefaultWGInterface
		n.Enabled = true
		n.Weight = store.DefaultWeight
		n.DriftPolicy = store.DriftRepair
	}
	mark := func(field string, differs bool) {
		if differs {
			changed = append(changed, field)
		}
	}

	if in.Name != nil || create {
		name, err := checkName("name", deref(in.Name), true)
		if err != nil {
			return store.Node{}, nil, err
		}
		mark("name", name != base.Name)
		n.Name = name
	}
	if in.AgentURL != nil || create {
		u, err := checkAgentURL(deref(in.AgentURL))
		if err != nil {
			return store.Node{}, nil, err
		}
		mark("agent_url", u != base.AgentURL)
		n.AgentURL = u
	}
	if in.AuthType != nil && *in.AuthType != "" {
		if *in.AuthType != string(store.AuthHMAC) {
			return store.Node{}, nil, Invalid("auth_type", "must be %q (requests signed with the node's secret)", store.AuthHMAC)
		}
		n.AuthType = store.AuthHMAC
	}
	if secret := deref(in.Secret); secret != "" || create {
		if err := checkSecret(secret); err != nil {
			return store.Node{}, nil, err
		}
		mark("secret", secret != string(base.Secret))
		n.Secret = []byte(secret)
	}
	if in.WGInterface != nil {
		iface := *in.WGInterface
		if iface == "" && create {
			iface = store.DefaultWGInterface
		}
		if err := checkInterface(iface); err != nil {
			return store.Node{}, nil, err
		}
		mark("wg_interface", iface != base.WGInterface)
		n.WGInterface = iface
	}
	if in.Endpoint != nil && (!create || strings.TrimSpace(*in.Endpoint) != "") {
		ep, err := checkEndpoint(*in.Endpoint)
		if err != nil {
			return store.Node{}, nil, err
		}
		mark("endpoint", ep != base.Endpoint)
		n.Endpoint = ep
	}
	if in.IPPool != nil || create {
		p, err := checkPool4(deref(in.IPPool))
		if err != nil {
			return store.Node{}, nil, err
		}
		mark("ip_pool_cidr", p != base.IPPool)
		n.IPPool = p
	}
	if in.IPPool6 != nil {
		p, err := checkPool6(*in.IPPool6)
		if err != nil {
			return store.Node{}, nil, err
		}
		mark("ip_pool6_cidr", p != base.IPPool6)
		n.IPPool6 = p
	}
	if in.DNS != nil {
		dns, err := checkDNS("dns", *in.DNS)
		if err != nil {
			return store.Node{}, nil, err
		}
		mark("dns", dns != base.DNS)
		n.DNS = dns
	}
	if in.Enabled != nil {
		mark("enabled", *in.Enabled != base.Enabled)
		n.Enabled = *in.Enabled
	}
	if in.Weight != nil {
		if err := checkRange("weight", *in.Weight, 0, MaxWeight); err != nil {
			return store.Node{}, nil, err
		}
		mark("weight", *in.Weight != base.Weight)
		n.Weight = *in.Weight
	}
	if in.MaxPeers != nil {
		if err := checkRange("max_peers", *in.MaxPeers, 0, MaxMaxPeers); err != nil {
			return store.Node{}, nil, err
		}
		mark("max_peers", *in.MaxPeers != base.MaxPeers)
		n.MaxPeers = *in.MaxPeers
	}
	if in.DriftPolicy != nil && (*in.DriftPolicy != "" || create) {
		p := store.DriftPolicy(*in.DriftPolicy)
		if p == "" {
			p = store.DriftRepair
		}
		if p != store.DriftRepair && p != store.DriftReport {
			return store.Node{}, nil, Invalid("drift_policy", "must be %q (push the desired state again) or %q (only report differences)",
				store.DriftRepair, store.DriftReport)
		}
		mark("drift_policy", p != base.DriftPolicy)
		n.DriftPolicy = p
	}
	if in.Labels != nil {
		if err := labels.Check(in.Labels); err != nil {
			return store.Node{}, nil, Invalid("labels", "%v", err)
		}
		mark("labels", !in.Labels.Equal(base.Labels))
		n.Labels = in.Labels.Clone()
	}
	if in.TLSFingerprint != nil || !n.TLSFingerprint.IsZero() {
		text := n.TLSFingerprint.String()
		if in.TLSFingerprint != nil {
			text = *in.TLSFingerprint
		}
		fp, err := checkTLSFingerprint(text, n.AgentURL)
		if err != nil {
			return store.Node{}, nil, err
		}
		mark("tls_fingerprint", fp != base.TLSFingerprint)
		n.TLSFingerprint = fp
	}
	return n, changed, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
