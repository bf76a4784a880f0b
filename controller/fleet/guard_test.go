package fleet

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/store"
)

// TestPoolOverlap: a node whose pool overlaps another node's is refused
// (a conflict on the pool's field, naming the other node) unless the
// input allows the overlap; an update that moves a pool onto another
// node's is refused the same way, and one that leaves an allowed overlap
// alone is not.
func TestPoolOverlap(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := func(name, pool4, pool6 string) NodeInput {
		n := nodeIn(name)
		n.IPPool, n.IPPool6, n.AllowOverlap = ptr(pool4), ptr(pool6), nil
		return n
	}
	a := e.createNode(t, in("pool-a", "10.40.0.0/24", "fd40::/64"))
	for _, tt := range []struct {
		name  string
		in    NodeInput
		field string
	}{
		{"same IPv4 pool", in("pool-b", "10.40.0.0/24", ""), "ip_pool_cidr"},
		{"IPv4 pool inside", in("pool-b", "10.40.0.128/25", ""), "ip_pool_cidr"},
		{"IPv4 pool around", in("pool-b", "10.40.0.0/16", ""), "ip_pool_cidr"},
		{"IPv6 pool", in("pool-b", "10.41.0.0/24", "fd40::/56"), "ip_pool6_cidr"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.CreateNode(ctx, actor, tt.in)
			var ce *ConflictError
			if !errors.As(err, &ce) || !errors.Is(err, store.ErrConflict) || ce.Field != tt.field || !strings.Contains(ce.Message, "of node pool-a") ||
				!strings.Contains(ce.Message, `"allow_overlap": true`) {
				t.Fatalf("error %v, want a conflict on %s naming pool-a", err, tt.field)
			}
		})
	}
	allowed := in("pool-c", "10.40.0.0/24", "")
	allowed.AllowOverlap = ptr(true)
	c := e.createNode(t, allowed)

	b := e.createNode(t, in("pool-b", "10.41.0.0/24", ""))
	_, err := e.svc.UpdateNode(ctx, actor, b.ID, NodeInput{IPPool: ptr("10.40.0.0/25")})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Field != "ip_pool_cidr" {
		t.Fatalf("update onto another node's pool: %v, want a conflict on ip_pool_cidr", err)
	}
	if _, err := e.svc.UpdateNode(ctx, actor, c.ID, NodeInput{Weight: ptr(7)}); err != nil {
		t.Fatalf("an update of a node whose overlap was allowed, pools untouched: %v", err)
	}
	if _, err := e.svc.UpdateNode(ctx, actor, a.ID, NodeInput{IPPool: ptr("10.40.0.0/24")}); err != nil {
		t.Fatalf("a node's own pool again: %v", err)
	}
}

// TestNodeEndpointRequired: a node needs the endpoint its clients dial;
// one without, or an update that empties it, is refused on that field.
func TestNodeEndpointRequired(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := nodeIn("no-endpoint")
	in.Endpoint = nil
	_, err := e.svc.CreateNode(ctx, actor, in)
	wantField(t, err, "endpoint")
	if !strings.Contains(err.Error(), "is required") {
		t.Fatalf("message %q", err)
	}
	n := e.createNode(t, nodeIn("with-endpoint"))
	_, err = e.svc.UpdateNode(ctx, actor, n.ID, NodeInput{Endpoint: ptr(" ")})
	wantField(t, err, "endpoint")
}
