package events

import (
	"context"
	"strings"
	"testing"
)

func TestParseType(t *testing.T) {
	for _, ty := range Types() {
		got, err := ParseType(string(ty))
		if err != nil || got != ty {
			t.Errorf("ParseType(%q) = %q, %v", ty, got, err)
		}
	}
	for _, bad := range []string{"", "node", "NODE.OFFLINE", string(Test), "peer.created "} {
		if _, err := ParseType(bad); err == nil || !strings.Contains(err.Error(), "node.offline") {
			t.Errorf("ParseType(%q) = %v, want an error listing the events", bad, err)
		}
	}
}

func TestMulti(t *testing.T) {
	var a, b []Type
	p := Multi(PublisherFunc(func(_ context.Context, e Event) { a = append(a, e.Type) }), nil,
		PublisherFunc(func(_ context.Context, e Event) { b = append(b, e.Type) }))
	p.Publish(context.Background(), Event{Type: NodeDrift})
	if len(a) != 1 || len(b) != 1 {
		t.Errorf("Multi gave %v and %v, want the event to each", a, b)
	}
}

func TestOrDiscard(t *testing.T) {
	OrDiscard(nil).Publish(context.Background(), Event{Type: NodeOnline})
	var got []Type
	p := OrDiscard(PublisherFunc(func(_ context.Context, e Event) { got = append(got, e.Type) }))
	p.Publish(context.Background(), Event{Type: PeerCreated})
	if len(got) != 1 || got[0] != PeerCreated {
		t.Errorf("published %v, want [peer.created]", got)
	}
}
