package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/wgfleet/wgfleet/controller/client"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/controller/fleet"
)

func ptr[T any](v T) *T { return &v }

// newClient starts a real controller and returns a client holding an API
// token for it.
func newClient(t *testing.T) (*client.Client, *controllertest.Controller) {
	t.Helper()
	ctl := controllertest.Start(t, "")
	token, _, err := ctl.Auth().CreateToken(context.Background(), "test", "client-test", 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(client.Config{URL: ctl.URL, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c, ctl
}

// TestPeersFollowsCursors: the iterator walks every page of a search in id
// order, and stops when its consumer does.
func TestPeersFollowsCursors(t *testing.T) {
	c, _ := newClient(t)
	ctx := context.Background()
	n, _, err := c.CreateNode(ctx, fleet.NodeInput{Name: ptr("paged"), AgentURL: ptr("http://127.0.0.1:1"),
		Secret: ptr(strings.Repeat("s", 32)), IPPool: ptr("10.171.0.0/24"), Endpoint: ptr("paged.example.net:51820")})
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for i := range 5 {
		p, msg, err := c.CreatePeer(ctx, fleet.PeerInput{NodeID: json.RawMessage(strconv.FormatInt(n.ID, 10)), Name: ptr("p" + strconv.Itoa(i))})
		if err != nil || !strings.HasPrefix(msg, "peer created") {
			t.Fatalf("create peer: %q, %v", msg, err)
		}
		want = append(want, p.ID)
	}
	page, err := c.SearchPeers(ctx, client.PeerQuery{NodeID: n.ID, PageSize: 2}, "")
	if err != nil || len(page.Peers) != 2 || page.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	var got []int64
	for p, err := range c.Peers(ctx, client.PeerQuery{NodeID: n.ID, PageSize: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.ID)
	}
	if !equal(got, want) {
		t.Fatalf("walked %v, want %v", got, want)
	}
	got = nil
	for p := range c.Peers(ctx, client.PeerQuery{Text: "p", PageSize: 2}) {
		if got = append(got, p.ID); len(got) == 3 {
			break
		}
	}
	if !equal(got, want[:3]) {
		t.Fatalf("stopped walk %v, want %v", got, want[:3])
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestErrors: the controller's refusals are *APIError with status,
// message and field; no answer is *UnreachableError; neither shows the
// token.
func TestErrors(t *testing.T) {
	c, ctl := newClient(t)
	ctx := context.Background()

	_, err := c.Node(ctx, 424242)
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || !strings.Contains(ae.Message, "not found") {
		t.Fatalf("unknown node: %#v", err)
	}
	_, _, err = c.CreateNode(ctx, fleet.NodeInput{Name: ptr("bad"), AgentURL: ptr("http://127.0.0.1:1"),
		Secret: ptr(strings.Repeat("s", 32)), IPPool: ptr("10.0.0.0/33")})
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Field != "ip_pool_cidr" {
		t.Fatalf("bad pool: %#v", err)
	}

	const secret = "wgf_not-a-real-token-but-secret-all-the-same"
	bad, err := client.New(client.Config{URL: ctl.URL, Token: secret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Nodes(ctx)
	if !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized || strings.Contains(err.Error(), secret) {
		t.Fatalf("bad token: %v", err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	gone, err := client.New(client.Config{URL: closed, Token: secret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = gone.Peer(ctx, 1)
	var ue *client.UnreachableError
	if !errors.As(err, &ue) || !errors.Is(err, syscall.ECONNREFUSED) || ue.URL != "http://"+closed ||
		err.Error() != "cannot reach the controller at http://"+closed+": connection refused" {
		t.Fatalf("closed port: %v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Fatal("the token is in the error")
	}
	ctx2, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Nodes(ctx2); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v, want context.Canceled", err)
	}
}

func TestNewReadsTheURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"127.0.0.1:10086", "http://127.0.0.1:10086"},
		{"https://vpn.example/wg/", "https://vpn.example/wg"},
		{" http://[::1]:80 ", "http://[::1]:80"},
		{"", ""},
		{"ftp://example.com", ""},
		{"http://admin:pw@example.com", ""},
		{"http://example.com/?a=b", ""},
		{"http://", ""},
	} {
		c, err := client.New(client.Config{URL: tc.in})
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("New(%q) accepted: %s", tc.in, c.URL())
		case tc.want != "" && (err != nil || c.URL() != tc.want):
			t.Errorf("New(%q) = %v, %v; want %s", tc.in, c, err, tc.want)
		}
	}
}
