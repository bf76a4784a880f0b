package agent

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/wgrules"
)

// parseAllowedIPs validates a list of allowed IPs. It is as liberal as
// `wg set … allowed-ips` where that is harmless: white space around an
// entry is trimmed, an entry may itself be a comma-separated list
// ("10.0.0.2/32, fd00::2/128"), and a bare address stands for its host
// route. An empty entry is refused, and so is a prefix with host bits set
// rather than silently masked. The result is sorted and deduplicated.
func parseAllowedIPs(in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for i, entry := range in {
		for _, s := range strings.Split(entry, ",") {
			p, err := parseAllowedIP(i, strings.TrimSpace(s))
			if err != nil {
				return nil, err
			}
			out = append(out, p)
		}
	}
	slices.SortFunc(out, comparePrefixes)
	return slices.Compact(out), nil
}

// comparePrefixes is the order of a peer's allowed IPs: by address, then
// by length.
func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

// parseAllowedIP validates s, one trimmed part of allowed_ips[i].
func parseAllowedIP(i int, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, badRequestf("allowed_ips[%d] has an empty entry", i)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		a, aerr := netip.ParseAddr(s)
		if aerr != nil || a.Zone() != "" {
			return netip.Prefix{}, badRequestf("allowed_ips[%d] %q is not a valid CIDR", i, s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, badRequestf("allowed_ips[%d] %q is an IPv4-mapped IPv6 prefix; give the IPv4 form", i, s)
	}
	if m := p.Masked(); m != p {
		return netip.Prefix{}, badRequestf("allowed_ips[%d] %q has host bits set; did you mean %s?", i, s, m)
	}
	return p, nil
}

// parsePSK validates an optional preshared key: nil or "" means none.
func parsePSK(s *string) (*wgtypes.Key, error) {
	if s == nil || *s == "" {
		return nil, nil
	}
	k, err := agentapi.ParseKey(*s)
	if err != nil {
		return nil, badRequestf("preshared_key is not a valid key: it must be 32 bytes in standard base64")
	}
	return &k, nil
}

func checkKeepalive(v int) error {
	if v < 0 || v > wgrules.MaxKeepalive {
		return badRequestf("persistent_keepalive %d is out of range 0-%d", v, wgrules.MaxKeepalive)
	}
	return nil
}

func parseBodyKey(s string) (wgtypes.Key, error) {
	if s == "" {
		return wgtypes.Key{}, badRequestf("public_key is required")
	}
	k, err := agentapi.ParseKey(s)
	if err != nil {
		return wgtypes.Key{}, badRequestf("public_key %q is not a valid key: it must be 32 bytes in standard base64", s)
	}
	return k, nil
}

// checkPeerKey applies agentapi.CheckPeerKey, the one rule of usable peer
// keys, with the interface's own public key: a refusal is a bad request,
// answered before the change is queued.
func checkPeerKey(k, own wgtypes.Key) error {
	if err := agentapi.CheckPeerKey(k, own); err != nil {
		return badRequestf("public_key refused: %v", err)
	}
	return nil
}

// confFromAdd validates a POST body into a peer.
func confFromAdd(req agentapi.AddPeerRequest) (peerConf, error) {
	k, err := parseBodyKey(req.PublicKey)
	if err != nil {
		return peerConf{}, err
	}
	return buildConf(k, req.AllowedIPs, req.PresharedKey, req.PersistentKeepalive)
}

// confFromSync validates one entry of a PUT /v1/wg/{iface}/peers body.
func confFromSync(i int, req agentapi.PeerSpec) (peerConf, error) {
	k, err := parseBodyKey(req.PublicKey)
	if err != nil {
		return peerConf{}, fmt.Errorf("peers[%d]: %w", i, err)
	}
	ka := req.PersistentKeepalive
	conf, err := buildConf(k, req.AllowedIPs, req.PresharedKey, &ka)
	if err != nil {
		return peerConf{}, fmt.Errorf("peers[%d]: %w", i, err)
	}
	return conf, nil
}

func buildConf(k wgtypes.Key, allowed []string, psk *string, keepalive *int) (peerConf, error) {
	ips, err := parseAllowedIPs(allowed)
	if err != nil {
		return peerConf{}, err
	}
	p, err := parsePSK(psk)
	if err != nil {
		return peerConf{}, err
	}
	ka := 0
	if keepalive != nil {
		ka = *keepalive
	}
	if err := checkKeepalive(ka); err != nil {
		return peerConf{}, err
	}
	return peerConf{Key: k, AllowedIPs: ips, PSK: p, Keepalive: ka}, nil
}

// applyUpdate returns conf changed by a PUT body; nil fields stay unchanged.
func applyUpdate(conf peerConf, req agentapi.UpdatePeerRequest) (peerConf, error) {
	if req.AllowedIPs != nil {
		ips, err := parseAllowedIPs(*req.AllowedIPs)
		if err != nil {
			return peerConf{}, err
		}
		conf.AllowedIPs = ips
	}
	if req.PresharedKey != nil {
		p, err := parsePSK(req.PresharedKey)
		if err != nil {
			return peerConf{}, err
		}
		conf.PSK = p
	}
	if req.PersistentKeepalive != nil {
		if err := checkKeepalive(*req.PersistentKeepalive); err != nil {
			return peerConf{}, err
		}
		conf.Keepalive = *req.PersistentKeepalive
	}
	return conf, nil
}
