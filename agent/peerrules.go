package agent

import (
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// The agent's checks of one peer in a request body (docs/AGENT_API.md
// "Peers"), exported so that agenttest's fake refuses what the agent
// refuses, in the same words, by the same code. Their errors are bad
// requests (400) whose text is the agent's answer.

// CheckPeer validates one peer of a POST or PUT .../peers body for an
// interface whose public key is own, as the agent's handlers do: the key
// (agentapi.CheckPeerKey with own), the allowed IPs, the preshared key and
// the keepalive (nil: off). It returns the peer as the agent keeps it:
// allowed IPs masked, sorted and deduplicated, the preshared key (if any)
// in PresharedKey.
func CheckPeer(key string, allowed []string, psk *string, keepalive *int, own wgtypes.Key) (agentapi.Peer, error) {
	k, err := parseBodyKey(key)
	if err != nil {
		return agentapi.Peer{}, err
	}
	conf, err := buildConf(k, allowed, psk, keepalive)
	if err != nil {
		return agentapi.Peer{}, err
	}
	if err := checkPeerKey(conf.Key, own); err != nil {
		return agentapi.Peer{}, err
	}
	p := agentapi.Peer{PublicKey: k.String(), AllowedIPs: prefixStrings(conf.AllowedIPs), PersistentKeepalive: conf.Keepalive}
	if conf.PSK != nil {
		s := conf.PSK.String()
		p.PresharedKey = &s
	}
	return p, nil
}

// CheckUpdate validates a PUT .../peers/{pubkey} body as the agent does
// and returns p changed by it; a nil field leaves p's unchanged.
func CheckUpdate(p agentapi.Peer, req agentapi.UpdatePeerRequest) (agentapi.Peer, error) {
	conf, err := applyUpdate(peerConf{}, req)
	if err != nil {
		return agentapi.Peer{}, err
	}
	if req.AllowedIPs != nil {
		p.AllowedIPs = prefixStrings(conf.AllowedIPs)
	}
	if req.PresharedKey != nil {
		p.PresharedKey = nil
		if conf.PSK != nil {
			s := conf.PSK.String()
			p.PresharedKey = &s
		}
	}
	if req.PersistentKeepalive != nil {
		p.PersistentKeepalive = conf.Keepalive
	}
	return p, nil
}
