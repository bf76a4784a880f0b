// Package client talks to a running controller through its REST API
// (docs/API.md), for programs outside it: the `wg-controller node` and
// `wg-controller peer` commands, scripts written in Go, tests.
//
// A Client holds the controller's URL and an API token and sends each
// call as one HTTP request with the token as a bearer credential; it
// unwraps the API's envelope and returns the answer's data typed as the
// controller's fleet package defines it (fleet.NodeView, fleet.PeerView...),
// so the wire types have one definition. Every failure is one of two
// errors: *APIError when the controller answered with an error (its
// status and the API's one-sentence message), *UnreachableError when no
// controller answered (refused, timed out, or something else answered).
// The token never appears in an error or a log line.
package client
