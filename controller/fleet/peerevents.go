package fleet

import (
	"context"

	"github.com/wgfleet/wgfleet/controller/events"
)

// publishPeer announces an event about peer v (after its change is
// committed), with its node's name when it can be read.
func (s *Service) publishPeer(ctx context.Context, t events.Type, v PeerView, message string) {
	e := events.Event{Type: t, At: s.now().UTC(), Message: message,
		Peer: &events.Peer{ID: v.ID, NodeID: v.NodeID, Name: v.Name, PublicKey: v.PublicKey, Address4: v.Address4, Address6: v.Address6},
		Node: &events.Node{ID: v.NodeID}}
	if n, err := s.store.GetNode(ctx, v.NodeID); err == nil {
		e.Node.Name, e.Node.Status = n.Name, string(n.Status)
	}
	s.events.Publish(context.WithoutCancel(ctx), e)
}
