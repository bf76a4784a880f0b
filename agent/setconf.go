package agent

import (
	"fmt"

	"github.com/wgfleet/wgfleet/agent/agentapi/wgconf"
	"github.com/wgfleet/wgfleet/wgrules"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// maxSetConf bounds the wg config a syncconf takes, after base64.
const maxSetConf = 512 << 10

// wgQuickKeys are keys of wg-quick(8), not of wg(8): syncconf does not
// take them.
func wgQuickKeys() []string { return []string{"Address", "DNS", "MTU", "Table", "SaveConfig"} }

// hookKeys run commands, which are never part of the remote API.
func hookKeys() []string { return []string{"PreUp", "PostUp", "PreDown", "PostDown"} }

// parseSetConf reads a wg(8) config, as `wg syncconf` takes it, into the
// interface's whole peer set. The config may have one [Interface]; its
// PrivateKey and ListenPort are accepted only when they are the
// interface's own (pub is its public key, port its listen port): this API
// never changes either. Every [Peer] needs a PublicKey; PresharedKey,
// AllowedIPs (repeatable) and PersistentKeepalive are optional and mean
// what they mean to wg syncconf: a peer without PresharedKey has none.
// Endpoint is refused (peers connect to the node; the agent never dials
// them), and so is any other key. Values are checked by the rules of the
// JSON API. Errors are bad requests naming the line.
func parseSetConf(text []byte, pub wgtypes.Key, port int) (peerSet, error) {
	doc, err := wgconf.Parse(text, maxSetConf)
	if err != nil {
		return nil, badRequestf("config: %v", err)
	}
	set := peerSet{}
	interfaces := 0
	for _, s := range doc.Sections {
		if s.Name == wgconf.Interface {
			if interfaces++; interfaces > 1 {
				return nil, badRequestf("config: line %d: a second [Interface]", s.Line)
			}
			if err := checkSetConfInterface(s, pub, port); err != nil {
				return nil, err
			}
			continue
		}
		spec, err := setConfPeer(s)
		if err != nil {
			return nil, err
		}
		if err := checkPeerKey(spec.Key, pub); err != nil {
			return nil, fmt.Errorf("config: line %d: %w", s.Line, err)
		}
		if _, dup := set[spec.Key]; dup {
			return nil, badRequestf("config: line %d: peer %s is listed twice", s.Line, spec.Key)
		}
		set[spec.Key] = spec
	}
	return set, nil
}

// checkSetConfInterface refuses an [Interface] that would change anything.
func checkSetConfInterface(s wgconf.Section, pub wgtypes.Key, port int) error {
	for _, name := range []string{"PrivateKey", "ListenPort", "FwMark"} {
		if err := s.Once(name); err != nil {
			return badRequestf("config: %v", err)
		}
	}
	for _, e := range s.Entries {
		switch {
		case e.Is("PrivateKey"):
			k, err := e.WGKey()
			if err != nil {
				return badRequestf("config: %v", err)
			}
			if k.PublicKey() != pub {
				return badRequestf("config: line %d: PrivateKey is not the interface's: "+
					"syncconf never changes the private key, which is made on the node and never leaves it; leave PrivateKey out", e.Line)
			}
		case e.Is("ListenPort"):
			n, err := e.Int(0, 65535)
			if err != nil {
				return badRequestf("config: %v", err)
			}
			if n != port {
				return badRequestf("config: line %d: ListenPort %d is not the interface's %d: "+
					"syncconf never changes the listen port (the agent's configuration sets it); leave ListenPort out", e.Line, n, port)
			}
		case e.Is("FwMark"):
			if e.Value != "0" && e.Value != "off" {
				return badRequestf("config: line %d: FwMark is not supported by this agent", e.Line)
			}
		case isOneOf(e, hookKeys()):
			return badRequestf("config: line %d: %s runs commands, which is not part of the remote API", e.Line, wgconf.KeyName(e.Key))
		case isOneOf(e, wgQuickKeys()):
			return badRequestf("config: line %d: %s is a wg-quick key; syncconf takes a wg config (as `wg-quick strip` prints it)", e.Line, wgconf.KeyName(e.Key))
		default:
			return badRequestf("config: line %d: %s is not a key of [Interface]", e.Line, wgconf.KeyName(e.Key))
		}
	}
	return nil
}

// setConfPeer reads one [Peer] section.
func setConfPeer(s wgconf.Section) (peerConf, error) {
	for _, name := range []string{"PublicKey", "PresharedKey", "PersistentKeepalive", "Endpoint"} {
		if err := s.Once(name); err != nil {
			return peerConf{}, badRequestf("config: %v", err)
		}
	}
	var (
		key       *wgtypes.Key
		psk       *string
		keepalive int
		allowed   []string
	)
	for _, e := range s.Entries {
		switch {
		case e.Is("PublicKey"):
			k, err := e.WGKey()
			if err != nil {
				return peerConf{}, badRequestf("config: %v", err)
			}
			key = &k
		case e.Is("PresharedKey"):
			if _, err := e.WGKey(); err != nil {
				return peerConf{}, badRequestf("config: %v", err)
			}
			v := e.Value
			psk = &v
		case e.Is("AllowedIPs"):
			list, err := e.List()
			if err != nil {
				return peerConf{}, badRequestf("config: %v", err)
			}
			allowed = append(allowed, list...)
		case e.Is("PersistentKeepalive"):
			if e.Value == "off" {
				continue
			}
			n, err := e.Int(0, wgrules.MaxKeepalive)
			if err != nil {
				return peerConf{}, badRequestf("config: %v", err)
			}
			keepalive = n
		case e.Is("Endpoint"):
			return peerConf{}, badRequestf("config: line %d: this agent does not set peer endpoints: peers connect to the node; leave Endpoint out", e.Line)
		default:
			return peerConf{}, badRequestf("config: line %d: %s is not a key of [Peer]", e.Line, wgconf.KeyName(e.Key))
		}
	}
	if key == nil {
		return peerConf{}, badRequestf("config: line %d: [Peer] has no PublicKey", s.Line)
	}
	conf, err := buildConf(*key, allowed, psk, &keepalive)
	if err != nil {
		return peerConf{}, fmt.Errorf("config: [Peer] at line %d: %w", s.Line, err)
	}
	return conf, nil
}

func isOneOf(e wgconf.Entry, names []string) bool {
	for _, n := range names {
		if e.Is(n) {
			return true
		}
	}
	return false
}
