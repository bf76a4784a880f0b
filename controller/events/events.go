package events

import (
	"context"
	"fmt"
	"time"
)

// Type names an event. The names are part of the webhook contract
// (docs/API.md): never rename one.
type Type string

// The events the controller publishes.
const (
	// NodeOffline: a node's agent stopped answering, or answered with an
	// error, after it was online (or before it ever was). Published once
	// per transition, not once per failed poll.
	NodeOffline Type = "node.offline"
	// NodeOnline: a node that was offline or in error answers again.
	NodeOnline Type = "node.online"
	// NodeDrift: a new set of out-of-band differences was found on a node
	// (each time its drift_count grows).
	NodeDrift Type = "node.drift"
	// PeerCreated and PeerDeleted: an operator (or the controller) created
	// or deleted a peer.
	PeerCreated Type = "peer.created"
	PeerDeleted Type = "peer.deleted"
	// PeerExpired: a peer's expires_at passed and it was taken off its node.
	PeerExpired Type = "peer.expired"
	// PeerOverLimit: a peer reached its data limit and its limit action ran.
	PeerOverLimit Type = "peer.over_limit"
	// Test is the sample event of a webhook's test button; no subscription
	// is needed to receive it.
	Test Type = "webhook.test"
)

// Types are the events a subscription may name, in a stable order.
func Types() []Type {
	return []Type{NodeOffline, NodeOnline, NodeDrift, PeerCreated, PeerDeleted, PeerExpired, PeerOverLimit}
}

// ParseType returns the subscribable event named s, or an error that lists
// the names.
func ParseType(s string) (Type, error) {
	for _, t := range Types() {
		if string(t) == s {
			return t, nil
		}
	}
	return "", fmt.Errorf("unknown event %q; the events are %v", s, Types())
}

// Event is one thing that happened. It is the body of a webhook delivery
// as JSON, so it must never hold a secret: no private or preshared key, no
// node secret, no token.
type Event struct {
	Type Type      `json:"event"`
	At   time.Time `json:"at"`
	// Node is the node the event is about, or the peer's node; nil when
	// none.
	Node *Node `json:"node,omitempty"`
	// Peer is the peer the event is about; nil for node events.
	Peer *Peer `json:"peer,omitempty"`
	// Message says what happened in words, for a person reading a chat
	// channel the webhook posts to.
	Message string `json:"message"`
}

// Node is what an event says about a node.
type Node struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status,omitempty"`
	// PreviousStatus is the status before a transition; "" when the event
	// is no transition.
	PreviousStatus string `json:"previous_status,omitempty"`
	// Error is why the node is offline or in error; "" otherwise.
	Error string `json:"error,omitempty"`
	// Drift is the number of out-of-band differences (node.drift).
	Drift int `json:"drift,omitempty"`
}

// Peer is what an event says about a peer: its public key, never a
// private one.
type Peer struct {
	ID        int64  `json:"id"`
	NodeID    int64  `json:"node_id"`
	Name      string `json:"name"`
	PublicKey string `json:"public_key"`
	Address4  string `json:"address4,omitempty"`
	Address6  string `json:"address6,omitempty"`
}

// Publisher announces events. Publish must not block on the network and
// must not be called inside a store transaction (it may write to the
// store). It returns nothing: an event that cannot be recorded is the
// publisher's to log, never a reason to fail the change it reports.
type Publisher interface {
	Publish(ctx context.Context, e Event)
}

// Discard is a Publisher that drops every event.
type Discard struct{}

// Publish drops e.
func (Discard) Publish(context.Context, Event) {}

// PublisherFunc makes a function a Publisher.
type PublisherFunc func(ctx context.Context, e Event)

// Publish calls f.
func (f PublisherFunc) Publish(ctx context.Context, e Event) { f(ctx, e) }

// OrDiscard returns p, or Discard when p is nil, so a component whose
// Config leaves its publisher out can publish unconditionally.
func OrDiscard(p Publisher) Publisher {
	if p == nil {
		return Discard{}
	}
	return p
}

// Multi is a Publisher that gives every event to each of ps in turn; nil
// ones are skipped.
func Multi(ps ...Publisher) Publisher {
	var out multi
	for _, p := range ps {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

type multi []Publisher

func (m multi) Publish(ctx context.Context, e Event) {
	for _, p := range m {
		p.Publish(ctx, e)
	}
}
