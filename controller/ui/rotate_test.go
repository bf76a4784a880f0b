package ui_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestRotateSecretButton: the node page's "Rotate secret" button, after
// its confirmation, gives the real agent a new secret; the toast says so
// and the agent refuses the old secret.
func TestRotateSecretButton(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a := agenttest.Start(t, agenttest.Options{})
	c, base := startController(t)
	ctx := context.Background()
	n := addAgentNode(t, c.Fleet(), a, "rot-ui", "10.99.0.0/24")

	p := startBrowser(t, exe, base)
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username") && location.pathname === "/login"`)
	p.signIn()
	p.waitJS("the nodes page", `!!document.querySelector("#add-node") && location.pathname === "/nodes"`)
	p.navigate(fmt.Sprintf("/nodes/%d", n.ID))
	p.waitJS("the node page", `visibleText(".page-head h1").startsWith("rot-ui")`)
	p.do("rotate", chromedp.Click(chromedp.CSS(`[data-action="rotate-secret"]`)))
	p.waitJS("the confirmation", `visibleText("dialog[open]").includes("Give rot-ui's agent a new secret?")`)
	p.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] .btn-primary`)))
	p.waitJS("the rotation's toast", `visibleText(".toast-success:last-child p") === "rot-ui: node secret rotated."`)
	p.waitJS("no unfinished rotation shown", `visibleText(".notes .rotation-note") === ""`)

	stored, err := c.Store().GetNode(ctx, n.ID)
	if err != nil {
		t.Fatal(err)
	}
	if string(stored.Secret) == a.Secret || stored.PrevSecret != nil {
		t.Fatal("the node's secret did not change, or the old one is kept")
	}
	if _, err := a.Client(t).Interface(ctx, "wg0"); !errors.Is(err, agentapi.ErrUnauthorized) {
		t.Errorf("the old secret after the rotation: %v, want 401", err)
	}
	p.checkProblems()
}
