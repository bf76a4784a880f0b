package agentapi

import (
	"context"
	"errors"
	"net/http"
)

// PathFamily is where an agent serves the seed endpoints (PROTOCOL.md §2):
// our agent serves them bare and under /v1, the seed's reference agent
// only bare, its later production agent only under /v1 (with /health
// bare). A Client finds it out and remembers it.
type PathFamily string

const (
	// PathsUnknown: not found out yet; the bare paths are tried first.
	PathsUnknown PathFamily = ""
	// PathsBare: the seed endpoints answer at /wg/{iface}/...
	PathsBare PathFamily = "bare"
	// PathsV1: the seed endpoints answer only at /v1/wg/{iface}/...
	PathsV1 PathFamily = "v1"
)

// Valid reports whether f is one of the families above.
func (f PathFamily) Valid() bool {
	return f == PathsUnknown || f == PathsBare || f == PathsV1
}

// prefix is the path prefix of the seed endpoints in family f.
func (f PathFamily) prefix() string {
	if f == PathsV1 {
		return "/v1"
	}
	return ""
}

// other is the family tried when f's path is not served.
func (f PathFamily) other() PathFamily {
	if f == PathsV1 {
		return PathsBare
	}
	return PathsV1
}

// notServed reports whether err is a 404 whose body is not our agent's
// {"error": "..."}: the path is not served at all (FastAPI's
// {"detail": "Not Found"}, a proxy's page), as opposed to an unknown
// interface or peer on a path that is served.
func notServed(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.StatusCode == http.StatusNotFound && (ae.Foreign || ae.detail)
}

// Paths returns the path family the client uses for the seed endpoints:
// the one it was made with, or the one it found out since.
func (c *Client) Paths() PathFamily {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paths
}

// seed sends a request to a seed endpoint, at /wg/{iface}+rest under the
// client's path family. A family not known yet is found out here: the
// bare path first, then /v1 if the bare one is not served. A known family
// is tried again the other way when its path answers a 404 that is not the
// agent's (the agent was replaced by one of the other family); the family
// that answered otherwise is kept. A 404 on both keeps the family and
// returns the first answer.
func (c *Client) seed(ctx context.Context, method, iface, rest string, in, out any) error {
	fam := c.Paths()
	err := c.call(ctx, method, iface, fam.prefix(), rest, in, out)
	if !notServed(err) {
		if fam == PathsUnknown && !unanswered(err) {
			c.setPaths(PathsUnknown, PathsBare)
		}
		return err
	}
	alt := fam.other()
	err2 := c.call(ctx, method, iface, alt.prefix(), rest, in, out)
	if notServed(err2) || unanswered(err2) {
		return err
	}
	c.setPaths(fam, alt)
	return err2
}

// setPaths moves the family from was to now, unless another call moved it
// meanwhile.
func (c *Client) setPaths(was, now PathFamily) {
	c.mu.Lock()
	if c.paths == was {
		c.paths = now
	}
	c.mu.Unlock()
}

// unanswered reports whether err, from a Client, means no answer came:
// an error that carries no *APIError. nil is not unanswered.
func unanswered(err error) bool {
	if err == nil {
		return false
	}
	var ae *APIError
	return !errors.As(err, &ae)
}
