package reconcile

import (
	"slices"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// screen finds the desired peers of c that no agent can take, by
// agentapi.CheckPeerKey against own, the node's interface key as its agent
// last reported it (zero when not known): a row written before the
// controller checked keys, or a node whose key became a peer's. Such an
// item says why in Problem, its peer is marked with it instead of being
// sent (see applier), and it is left out of c.desired, so a replace-all
// does not carry it and fail for the others.
func screen(c *comparison, own wgtypes.Key) {
	var ownKeys []wgtypes.Key
	if own != (wgtypes.Key{}) {
		ownKeys = append(ownKeys, own)
	}
	bad := make(map[wgtypes.Key]bool)
	for _, it := range c.items {
		if it.Kind == DriftUnknown {
			continue // taking it off the agent is always fine
		}
		err := agentapi.CheckPeerKey(it.key, ownKeys...)
		if err == nil {
			continue
		}
		why := strings.TrimPrefix(err.Error(), agentapi.ErrBadKey.Error()+": ")
		if it.key == own {
			why = "the peer holds the node's own interface key"
		}
		it.Problem = "not sent to the agent: " + strings.Replace(why, it.key.String(), "the peer's key", 1)
		bad[it.key] = true
	}
	if len(bad) > 0 {
		c.desired = slices.DeleteFunc(c.desired, func(s peerConf) bool { return bad[s.key] })
	}
}
