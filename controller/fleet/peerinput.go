package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/wgrules"
)

// pskAuto asks the controller to make a preshared key.
const pskAuto = "auto"

// peerFromInput applies in to base and validates the result field by
// field against the peer's node, returning the first problem as a
// *ValidationError. The name is required (unique on the node: see
// checkPeerNameFree). On create (base is the zero Peer) a missing public
// key makes the controller generate the key pair, and absent fields take
// their defaults (enabled, both keepalives off, client routes 0.0.0.0/0 and
// ::/0, the node's DNS, the next free address). On update an absent field
// keeps base's value; the address cannot change. changed lists the JSON
// names of the fields that differ from base. Messages never quote a key.
func peerFromInput(base store.Peer, node store.Node, in PeerInput, create bool) (p store.Peer, changed []string, err error) {
	p = base
	if create {
		p.NodeID = node.ID
		p.Enabled = true
		p.ClientAllowedIPs = store.DefaultClientAllowedIPs()
	}
	mark := func(field string, differs bool) {
		if differs {
			changed = append(changed, field)
		}
	}
	fail := func(err error) (store.Peer, []string, error) { return store.Peer{}, nil, err }

	if in.Name != nil || create {
		name, err := checkName("name", deref(in.Name), true)
		if err != nil {
			return fail(err)
		}
		mark("name", name != base.Name)
		p.Name = name
	}

	switch pub := strings.TrimSpace(deref(in.PublicKey)); {
	case pub != "":
		k, err := parseKey(pub)
		if errors.Is(err, errZeroKey) {
			return fail(checkPeerKey(wgtypes.Key{}))
		}
		if err != nil {
			return fail(Invalid("public_key", "must be a base64 WireGuard public key (44 characters ending in '='), or absent to let the controller make the key pair"))
		}
		if k != base.PublicKey {
			mark("public_key", !create)
			p.PublicKey = k
			p.PrivateKey = nil // the client holds the private key of a key it brings
		}
	case create:
		priv, err := wgtypes.GeneratePrivateKey()
		if err != nil {
			return fail(fmt.Errorf("generating a key pair: %w", err))
		}
		p.PrivateKey = &priv
		p.PublicKey = priv.PublicKey()
	}

	if in.PresharedKey != nil {
		var psk *wgtypes.Key
		switch s := strings.TrimSpace(*in.PresharedKey); s {
		case "":
		case pskAuto:
			k, err := wgtypes.GenerateKey()
			if err != nil {
				return fail(fmt.Errorf("generating a preshared key: %w", err))
			}
			psk = &k
		default:
			k, err := parseKey(s)
			if err != nil {
				return fail(Invalid("preshared_key", "must be a base64 WireGuard key (44 characters ending in '='), %q to make one, or empty for none", pskAuto))
			}
			psk = &k
		}
		mark("preshared_key", !sameKey(psk, base.PresharedKey))
		p.PresharedKey = psk
	}

	if in.Address != nil && strings.TrimSpace(*in.Address) != "" {
		a, err := checkPeerAddress(node, *in.Address)
		if err != nil {
			return fail(err)
		}
		if !create && a != base.Address4 {
			return fail(Invalid("address", "a peer's address cannot change; move the peer to another node, or delete and re-create it"))
		}
		p.Address4 = a
	}

	if in.ClientAllowedIPs != nil {
		routes, err := checkClientRoutes(*in.ClientAllowedIPs)
		if err != nil {
			return fail(err)
		}
		mark("client_allowed_ips", !slices.Equal(routes, base.ClientAllowedIPs))
		p.ClientAllowedIPs = routes
	}

	if in.DNS != nil {
		dns, err := checkDNS("dns", *in.DNS)
		if err != nil {
			return fail(err)
		}
		mark("dns", dns != base.DNS)
		p.DNS = dns
	}

	if in.Keepalive != nil {
		if err := checkRange("persistent_keepalive", *in.Keepalive, 0, wgrules.MaxKeepalive); err != nil {
			return fail(err)
		}
		k := time.Duration(*in.Keepalive) * time.Second
		mark("persistent_keepalive", k != base.Keepalive)
		p.Keepalive = k
	}

	if in.NodeKeepalive != nil {
		if err := checkRange("node_keepalive", *in.NodeKeepalive, 0, wgrules.MaxKeepalive); err != nil {
			return fail(err)
		}
		k := time.Duration(*in.NodeKeepalive) * time.Second
		mark("node_keepalive", k != base.NodeKeepalive)
		p.NodeKeepalive = k
	}

	if in.Enabled != nil {
		mark("enabled", *in.Enabled != base.Enabled)
		p.Enabled = *in.Enabled
	}

	if given(in.ExpiresAt) {
		t, err := parseExpiry(in.ExpiresAt)
		if err != nil {
			return fail(err)
		}
		mark("expires_at", !t.Equal(base.ExpiresAt))
		p.ExpiresAt = t
	}

	if given(in.DataLimit) {
		n, err := parseDataLimit(in.DataLimit)
		if err != nil {
			return fail(err)
		}
		mark("data_limit_bytes", n != base.DataLimit)
		p.DataLimit = n
	}

	if in.LimitAction != nil {
		a := store.LimitAction(strings.TrimSpace(*in.LimitAction))
		if a == "" {
			a = store.LimitRestrict
		}
		if a != store.LimitRestrict && a != store.LimitDelete {
			return fail(Invalid("limit_action", "must be %q (take the peer off its node, the default) or %q", store.LimitRestrict, store.LimitDelete))
		}
		mark("limit_action", a != base.LimitAction)
		p.LimitAction = a
	}
	return p, changed, nil
}

// given reports whether a nullable field was in the body at all (null
// included).
func given(raw json.RawMessage) bool { return len(raw) > 0 }

// parseExpiry reads expires_at: null for never, else an RFC 3339 time,
// kept to the second. A time already past is allowed: the peer expires at
// once.
func parseExpiry(raw json.RawMessage) (time.Time, error) {
	const field = "expires_at"
	if string(raw) == "null" {
		return time.Time{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, Invalid(field, "must be an RFC 3339 time, e.g. \"2026-12-31T23:59:59Z\", or null for never")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, Invalid(field, "must be an RFC 3339 time, e.g. \"2026-12-31T23:59:59Z\", or null for never")
	}
	if t.Unix() <= 0 {
		return time.Time{}, Invalid(field, "must be after 1970-01-01T00:00:00Z")
	}
	return t.Truncate(time.Second).UTC(), nil
}

// parseDataLimit reads data_limit_bytes: null or 0 for no limit, else a
// whole number of bytes.
func parseDataLimit(raw json.RawMessage) (int64, error) {
	const field = "data_limit_bytes"
	if string(raw) == "null" {
		return 0, nil
	}
	var n int64
	if err := json.Unmarshal(raw, &n); err != nil || n < 0 {
		return 0, Invalid(field, "must be a whole number of bytes (received and sent together), or null or 0 for no limit")
	}
	return n, nil
}

// errZeroKey is parseKey's refusal of the all-zero key.
var errZeroKey = errors.New("all-zero key")

// parseKey parses a key by agentapi.ParseKey and refuses the all-zero
// key (errZeroKey).
func parseKey(s string) (wgtypes.Key, error) {
	k, err := agentapi.ParseKey(s)
	if err != nil {
		return wgtypes.Key{}, err
	}
	if k == (wgtypes.Key{}) {
		return wgtypes.Key{}, errZeroKey
	}
	return k, nil
}

func sameKey(a, b *wgtypes.Key) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// checkPeerAddress accepts an IPv4 address ("10.8.0.5" or "10.8.0.5/32")
// that the node's pool may give to a peer.
func checkPeerAddress(node store.Node, s string) (netip.Addr, error) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(strings.TrimSuffix(s, "/32"))
	if err != nil || !a.Is4() {
		return netip.Addr{}, Invalid("address", "must be an IPv4 address from the node's pool %s, e.g. %s, or absent for the next free one",
			node.IPPool, ipam.InterfaceAddr(node.IPPool).Next())
	}
	if !node.IPPool.Contains(a) {
		return netip.Addr{}, Invalid("address", "%s is not in the node's pool %s", a, node.IPPool)
	}
	if ipam.CheckUsable(node.IPPool, a) != nil {
		return netip.Addr{}, Invalid("address", "%s is reserved in the node's pool %s (its network, interface or broadcast address)",
			a, node.IPPool)
	}
	return a, nil
}

// checkClientRoutes accepts masked IPv4 and IPv6 prefixes; none means the
// default, 0.0.0.0/0 and ::/0.
func checkClientRoutes(ss []string) ([]netip.Prefix, error) {
	const field = "client_allowed_ips"
	if len(ss) == 0 {
		return store.DefaultClientAllowedIPs(), nil
	}
	if len(ss) > maxClientRoutes {
		return nil, Invalid(field, "has more than %d entries", maxClientRoutes)
	}
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil || p.Addr().Zone() != "" || p.Addr().Is4In6() {
			return nil, Invalid(field, "%q is not a CIDR prefix; give a comma-separated list of prefixes such as 0.0.0.0/0, ::/0 or 10.8.0.0/24", s)
		}
		if m := p.Masked(); m != p {
			return nil, Invalid(field, "%s has host bits set; did you mean %s?", p, m)
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
