package ui_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestEnrollmentEndToEnd drives headless Chromium: the Add node dialog
// offers an enrollment token instead of an agent's URL and secret; a bad
// label (a key without a value) is refused beside its field with the
// API's message, as in the node form (one parser, js/labels.js); the
// token made shows the join
// command, once, with a token the controller knows by its prefix only. It
// fails on any script exception or CSP violation.
func TestEnrollmentEndToEnd(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	c, base := startController(t)
	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/nodes")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	p.signIn()
	p.waitJS("the nodes page", `!!document.querySelector("#add-node")`)

	t.Log("Add node offers an enrollment token")
	p.do("open Add node", chromedp.Click(chromedp.CSS("#add-node")))
	p.waitJS("the offer", `visibleText("dialog[open] .enroll-offer").includes("join by itself")`)
	p.do("choose a token", chromedp.Click(chromedp.CSS(`dialog [data-action="enroll"]`)))
	p.waitJS("the token form", `!!document.querySelector('dialog[open] input[name="expires_in"]') && document.querySelectorAll("dialog[open]").length === 1`)
	testenv.Equal(t, "default expiry", p.evalString(`document.querySelector('dialog[open] input[name="expires_in"]').value`), "1h")

	p.do("a bad label",
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="name"]`), "edge-j"),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="labels"]`), "region"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	_, _, verr := c.Fleet().CreateEnrollmentToken(context.Background(), fleet.ActorSystem,
		fleet.EnrollmentTokenInput{Name: new("edge-j"), Labels: labels.Set{"region": ""}}, agentapi.Fingerprint{})
	var ve *fleet.ValidationError
	if !errors.As(verr, &ve) || ve.Field != "labels" {
		t.Fatalf("the API accepts label region without a value or blames another field: %v", verr)
	}
	p.waitJS("the label error beside its field", fmt.Sprintf(`visibleText('dialog [data-field="labels"] .field-error') === %q`, ve.Message))
	p.do("a good label",
		clearInput(`dialog input[name="labels"]`),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="labels"]`), "region=eu-west"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the join command", `!!document.querySelector("dialog[open] #join-command")`)
	p.screenshot("join-command")
	command := p.evalString(`document.querySelector("#join-command").value`)
	prefix := "wg-agent --join " + base + " --join-token "
	if !strings.HasPrefix(command, prefix) {
		t.Fatalf("join command %q does not start with %q", command, prefix)
	}
	tok, err := agentapi.ParseJoinToken(strings.TrimPrefix(command, prefix))
	if err != nil {
		t.Fatalf("the command's token: %v", err)
	}
	toks, err := c.Fleet().ListEnrollmentTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 || toks[0].Name != "edge-j" || toks[0].Labels["region"] != "eu-west" || toks[0].Prefix != tok.Display() {
		t.Fatalf("tokens: %+v; want edge-j, region=eu-west, prefix %s", toks, tok.Display())
	}
	p.checkProblems()
}
