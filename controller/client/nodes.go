package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/wgfleet/wgfleet/controller/fleet"
)

// nodePath is the path of node id, with more after it ("/test").
func nodePath(id int64, more string) string { return fmt.Sprintf("/api/nodes/%d%s", id, more) }

// Nodes lists the fleet's nodes: GET /api/nodes. Each of labels is a
// key=value selector the nodes must all carry; none lists every node.
func (c *Client) Nodes(ctx context.Context, labels ...string) ([]fleet.NodeView, error) {
	var q url.Values
	if len(labels) > 0 {
		q = url.Values{"label": labels}
	}
	var nodes []fleet.NodeView
	_, err := c.call(ctx, http.MethodGet, "/api/nodes", q, nil, &nodes)
	return nodes, err
}

// Node is one node: GET /api/nodes/{id}.
func (c *Client) Node(ctx context.Context, id int64) (fleet.NodeView, error) {
	var n fleet.NodeView
	_, err := c.call(ctx, http.MethodGet, nodePath(id, ""), nil, nil, &n)
	return n, err
}

// CreateNode registers a node: POST /api/nodes. It returns the node and
// the controller's message.
func (c *Client) CreateNode(ctx context.Context, in fleet.NodeInput) (fleet.NodeView, string, error) {
	var n fleet.NodeView
	msg, err := c.call(ctx, http.MethodPost, "/api/nodes", nil, in, &n)
	return n, msg, err
}

// UpdateNode changes the fields of in that are not nil: PUT
// /api/nodes/{id}.
func (c *Client) UpdateNode(ctx context.Context, id int64, in fleet.NodeInput) (fleet.NodeView, string, error) {
	var n fleet.NodeView
	msg, err := c.call(ctx, http.MethodPut, nodePath(id, ""), nil, in, &n)
	return n, msg, err
}

// SetNodeEnabled enables or disables a node: POST /api/nodes/{id}/toggle.
func (c *Client) SetNodeEnabled(ctx context.Context, id int64, enabled bool) (fleet.NodeView, string, error) {
	var n fleet.NodeView
	msg, err := c.call(ctx, http.MethodPost, nodePath(id, "/toggle"), nil, map[string]bool{"enabled": enabled}, &n)
	return n, msg, err
}

// TestNode runs a connection test against the node's agent: POST
// /api/nodes/{id}/test. A test that ran is no error whatever its outcome:
// see the result's OK and Message.
func (c *Client) TestNode(ctx context.Context, id int64) (fleet.TestResult, error) {
	var res fleet.TestResult
	_, err := c.call(ctx, http.MethodPost, nodePath(id, "/test"), nil, nil, &res)
	return res, err
}

// DeleteNode deletes a node: DELETE /api/nodes/{id}. Without force the
// controller refuses (409) a node that still has peers; with it, they go
// too.
func (c *Client) DeleteNode(ctx context.Context, id int64, force bool) (string, error) {
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	return c.call(ctx, http.MethodDelete, nodePath(id, ""), q, nil, nil)
}
