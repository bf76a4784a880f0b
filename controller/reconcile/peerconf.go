package reconcile

import (
	"net/netip"
	"slices"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/store"
)

// peerConf is the configuration of one peer on an agent's interface: what the
// controller sends and what it compares. "Spec" is the wire's word: a
// peerConf goes out as an agentapi.PeerSpec (or an add/update body).
type peerConf struct {
	key        wgtypes.Key
	allowedIPs []string     // canonical prefixes, sorted, no duplicates
	psk        *wgtypes.Key // nil: none (or not shown, for an agent whose dump hides it)
	keepalive  int          // seconds: the peer's NodeKeepalive (its Keepalive is the client config's)
}

// desiredConf is what peer p should look like on its node.
func desiredConf(p *store.Peer) peerConf {
	ips := make([]string, 0, len(p.AllowedIPs))
	for _, pr := range p.AllowedIPs {
		ips = append(ips, pr.Masked().String())
	}
	return peerConf{
		key:        p.PublicKey,
		allowedIPs: canonicalIPs(ips),
		psk:        p.PresharedKey,
		keepalive:  int(p.NodeKeepalive / time.Second),
	}
}

// actualConf is what the agent reported for one peer; false when the
// agent's public key does not parse. psk is the dump's preshared key when
// showsPSK (the dump carries them); otherwise nil.
func actualConf(p agentapi.Peer, showsPSK bool) (peerConf, bool) {
	k, err := agentapi.ParseKey(p.PublicKey)
	if err != nil {
		return peerConf{}, false
	}
	s := peerConf{key: k, allowedIPs: canonicalIPs(p.AllowedIPs), keepalive: p.PersistentKeepalive}
	if showsPSK && p.PresharedKey != nil && *p.PresharedKey != "" {
		psk, err := agentapi.ParseKey(*p.PresharedKey)
		if err != nil {
			psk = wgtypes.Key{} // unreadable: differs from any real key
		}
		s.psk = &psk
	}
	return s, true
}

// canonicalIPs normalizes a list of allowed IPs for comparison: parsed
// prefixes (a bare address is its host route) in canonical text, sorted
// by address then length, without duplicates. Entries that do not parse
// are kept as they are, so they still count as a difference.
func canonicalIPs(in []string) []string {
	type entry struct {
		p   netip.Prefix
		raw string
	}
	es := make([]entry, 0, len(in))
	for _, s := range in {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if a, aerr := netip.ParseAddr(s); aerr == nil {
				p, err = netip.PrefixFrom(a, a.BitLen()), nil
			}
		}
		if err != nil {
			es = append(es, entry{raw: s})
			continue
		}
		es = append(es, entry{p: p, raw: p.String()})
	}
	slices.SortFunc(es, func(a, b entry) int {
		if a.p.IsValid() != b.p.IsValid() { // unparsed ones last
			if a.p.IsValid() {
				return -1
			}
			return 1
		}
		if c := a.p.Addr().Compare(b.p.Addr()); c != 0 {
			return c
		}
		if c := a.p.Bits() - b.p.Bits(); c != 0 {
			return c
		}
		switch {
		case a.raw < b.raw:
			return -1
		case a.raw > b.raw:
			return 1
		}
		return 0
	})
	out := make([]string, 0, len(es))
	for _, e := range es {
		if len(out) == 0 || out[len(out)-1] != e.raw {
			out = append(out, e.raw)
		}
	}
	return out
}

// observableDiff lists the fields in which the agent's peer differs from
// the desired one, as far as a dump shows them: allowed IPs, keepalive,
// and the preshared key when showsPSK.
func observableDiff(want, got peerConf, showsPSK bool) []string {
	var fields []string
	if !slices.Equal(want.allowedIPs, got.allowedIPs) {
		fields = append(fields, FieldAllowedIPs)
	}
	if want.keepalive != got.keepalive {
		fields = append(fields, FieldKeepalive)
	}
	if showsPSK && !samePSK(want.psk, got.psk) {
		fields = append(fields, FieldPresharedKey)
	}
	return fields
}

// samePSK reports whether two optional preshared keys are the same.
func samePSK(a, b *wgtypes.Key) bool {
	if (a == nil) != (b == nil) {
		return false
	}
	return a == nil || *a == *b
}

// sameDesired reports whether two desired specs are the same, preshared
// key included.
func sameDesired(a, b peerConf) bool {
	if a.key != b.key || a.keepalive != b.keepalive || !slices.Equal(a.allowedIPs, b.allowedIPs) {
		return false
	}
	return samePSK(a.psk, b.psk)
}

// state is the reportable form of s: never the key itself.
func (s peerConf) state() *PeerState {
	return &PeerState{AllowedIPs: slices.Clone(s.allowedIPs), Keepalive: s.keepalive, HasPresharedKey: s.psk != nil}
}

// pskString is the wire form of the preshared key: "" for none.
func (s peerConf) pskString() string {
	if s.psk == nil {
		return ""
	}
	return s.psk.String()
}

// addRequest is the POST body that creates s.
func (s peerConf) addRequest() agentapi.AddPeerRequest {
	ka := s.keepalive
	req := agentapi.AddPeerRequest{PublicKey: s.key.String(), AllowedIPs: slices.Clone(s.allowedIPs), PersistentKeepalive: &ka}
	if s.psk != nil {
		psk := s.pskString()
		req.PresharedKey = &psk
	}
	return req
}

// updateRequest is the PUT body that sets every field of s, removing a
// preshared key when s has none.
func (s peerConf) updateRequest() agentapi.UpdatePeerRequest {
	ips, ka, psk := slices.Clone(s.allowedIPs), s.keepalive, s.pskString()
	return agentapi.UpdatePeerRequest{AllowedIPs: &ips, PresharedKey: &psk, PersistentKeepalive: &ka}
}

// peerSpec is s as one entry of a replace-all body.
func (s peerConf) peerSpec() agentapi.PeerSpec {
	ps := agentapi.PeerSpec{PublicKey: s.key.String(), AllowedIPs: slices.Clone(s.allowedIPs), PersistentKeepalive: s.keepalive}
	if s.psk != nil {
		psk := s.pskString()
		ps.PresharedKey = &psk
	}
	return ps
}
