package api

import (
	"slices"
	"testing"
)

// TestDemoInfo: GET /api/demo says whether the controller is the demo's
// and what commands it suggests, to a signed-in caller only.
func TestDemoInfo(t *testing.T) {
	for _, demo := range []*Demo{nil, {Commands: []string{"wg-controller peer list"}}} {
		e := newEnv(t, envOptions{demo: demo})
		var got struct {
			Demo     *bool    `json:"demo"`
			Commands []string `json:"commands"`
		}
		e.login(t).do(t, "GET", "/api/demo", nil).want(t, 200).decode(t, &got)
		if got.Demo == nil || *got.Demo != (demo != nil) || got.Commands == nil {
			t.Errorf("demo %v: GET /api/demo said %v %v", demo, got.Demo, got.Commands)
		}
		if demo != nil && !slices.Equal(got.Commands, demo.Commands) {
			t.Errorf("GET /api/demo commands %q, want %q", got.Commands, demo.Commands)
		}
		e.anon().do(t, "GET", "/api/demo", nil).want(t, 401)
	}
}
