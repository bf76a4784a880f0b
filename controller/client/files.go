package client

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// File is a file the controller hands out: a peer's wg-quick config or
// its QR code.
type File struct {
	// Name is the file name the controller suggests ("wg-laptop.conf"); ""
	// when it suggests none.
	Name        string
	ContentType string
	Data        []byte
}

// PeerConfig is the peer's client config, a wg-quick file holding its
// private key: GET /api/peers/{id}/config.
func (c *Client) PeerConfig(ctx context.Context, id int64) (File, error) {
	return c.file(ctx, peerPath(id, "/config"), "text/plain")
}

// PeerQR is the peer's client config as a QR code, a PNG image: GET
// /api/peers/{id}/qr.
func (c *Client) PeerQR(ctx context.Context, id int64) (File, error) {
	return c.file(ctx, peerPath(id, "/qr"), "image/png")
}

// file downloads path, which answers a file of media type want, or the
// API's envelope for an error.
func (c *Client) file(ctx context.Context, path, want string) (File, error) {
	resp, cancel, err := c.send(ctx, http.MethodGet, path, nil, nil, want+", application/json")
	if err != nil {
		return File{}, err
	}
	defer cancel()
	defer resp.Body.Close()
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || mt != want {
		if _, err := c.decode(resp); err != nil {
			return File{}, err
		}
		return File{}, &UnreachableError{URL: c.base,
			Reason: fmt.Sprintf("GET %s answered %d with %s, not %s", path, resp.StatusCode, mt, want)}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return File{}, unreachable(c.base, err)
	}
	f := File{ContentType: mt, Data: data}
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Disposition")); err == nil {
		f.Name = params["filename"]
	}
	return f, nil
}
