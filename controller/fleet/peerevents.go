package fleet

import (
	"context"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/store"
)

// publishPeer announces an event about peer v (after its change is
// committed), with its node's name when it can be read.
func (s *Service) publishPeer(ctx context.Context, t events.Type, v PeerView, message string) {
	node := store.Node{ID: v.NodeID}
	if n, err := s.store.GetNode(ctx, v.NodeID); err == nil {
		node = n
	}
	s.publishPeerOn(ctx, t, v, node, message)
}

// publishPeerOn announces an event about peer v of node, which the caller
// has at hand (a node deleted with its peers cannot be read any more).
func (s *Service) publishPeerOn(ctx context.Context, t events.Type, v PeerView, node store.Node, message string) {
	e := events.Event{Type: t, At: s.now().UTC(), Message: message,
		Peer: &events.Peer{ID: v.ID, NodeID: v.NodeID, Name: v.Name, PublicKey: v.PublicKey, Address4: v.Address4, Address6: v.Address6},
		Node: &events.Node{ID: node.ID, Name: node.Name, Status: string(node.Status)}}
	s.events.Publish(context.WithoutCancel(ctx), e)
}

// peerLabel names a peer in an event's message: its name, else its
// address.
func peerLabel(p store.Peer) string {
	if p.Name != "" {
		return p.Name
	}
	return addrString(p.Address4)
}
