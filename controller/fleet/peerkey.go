package fleet

import (
	"context"
	"strings"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/store"
)

// checkPeerKey applies agentapi.CheckPeerKey, the one rule of which keys a
// peer may hold, to key k against the interface keys of nodes (those the
// agents reported; a node whose key is not known yet cannot be checked),
// as a *ValidationError for "public_key" that says why and, for a node's
// own key, names the node. The message does not quote the key.
func checkPeerKey(k wgtypes.Key, nodes ...store.Node) error {
	own := make([]wgtypes.Key, 0, len(nodes))
	for _, n := range nodes {
		if n.ServerPublicKey != (wgtypes.Key{}) {
			own = append(own, n.ServerPublicKey)
		}
	}
	err := agentapi.CheckPeerKey(k, own...)
	if err == nil {
		return nil
	}
	for _, n := range nodes {
		if n.ServerPublicKey == k {
			return Invalid("public_key", "is the public key of node %s's interface %s; a peer cannot hold a node's own key: use the client's own key pair, or leave public_key out to let the controller make one",
				n.Name, n.WGInterface)
		}
	}
	why := strings.TrimPrefix(err.Error(), agentapi.ErrBadKey.Error()+": ")
	why = strings.Replace(why, k.String(), "the key", 1)
	return Invalid("public_key", "cannot be a peer's key: %s", why)
}

// checkPeerKeyTx is checkPeerKey against every node. Only the nodes that
// hold k can refuse it, so only those are read: a check inside every
// peer creation's transaction must not grow with the fleet.
func checkPeerKeyTx(ctx context.Context, tx *store.Tx, k wgtypes.Key) error {
	nodes, err := tx.NodesWithServerKey(ctx, k)
	if err != nil {
		return err
	}
	return checkPeerKey(k, nodes...)
}
