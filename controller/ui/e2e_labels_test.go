package ui_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/labels"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestNodeLabelsInTheBrowser: the nodes page groups the cards by region
// (nodes without one last, in a group of their own) and shows each node's
// labels; labels are edited in the node form, where a bad one is refused
// beside the field with the API's message; a card follows its node to
// another group without a reload; the node page shows the labels; the
// drain dialog of a node in a region says the peers stay in it.
func TestNodeLabelsInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a := agenttest.Start(t, agenttest.Options{})
	c, base := startController(t)
	ctx := context.Background()
	fl := c.Fleet()
	mk := func(name, pool string, l labels.Set) fleet.NodeView {
		t.Helper()
		v, err := fl.CreateNode(ctx, fleet.ActorSystem, fleet.NodeInput{
			Name: new(name), AgentURL: new(a.URL), Secret: new(a.Secret), Endpoint: new(endpointOf(a)),
			IPPool: new(pool), Labels: l,
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// Named so that name order and region order differ.
	eu := mk("lb-a-eu", "10.51.0.0/24", labels.Set{"region": "eu-west", "provider": "hetzner"})
	us := mk("lb-b-us", "10.52.0.0/24", labels.Set{"region": "us-east"})
	bare := mk("lb-0-bare", "10.53.0.0/24", nil)
	card := func(v fleet.NodeView) string { return fmt.Sprintf(`li.node-card[data-node-id="%d"]`, v.ID) }
	// groups is the page's layout: each group's heading and the names on
	// its cards, in order.
	const groups = `[...document.querySelectorAll("#node-cards .region-group")].map((g) =>
		g.querySelector(".region-name").textContent + ": " +
		[...g.querySelectorAll("li.node-card h2")].map((h) => h.textContent).join(", ")).join(" | ")`

	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username") && location.pathname === "/login"`)
	p.signIn()
	p.waitJS("the nodes page", `!!document.querySelector("#add-node") && location.pathname === "/nodes"`)
	p.waitJS("the cards grouped by region", fmt.Sprintf(`(%s) === "eu-west: lb-a-eu | us-east: lb-b-us | No region: lb-0-bare"`, groups))
	p.waitJS("lb-a-eu's labels on its card", fmt.Sprintf(`[...document.querySelectorAll(%q)].map((l) => l.textContent).join() === "provider=hetzner,region=eu-west"`,
		card(eu)+" .labels .label"))
	if !p.evalBool(fmt.Sprintf(`!document.querySelector(%q).closest("[hidden]") && !!document.querySelector(%q).closest("[hidden]")`,
		card(us)+" .labels", card(bare)+" .labels")) {
		t.Error("lb-b-us shows no labels, or lb-0-bare shows an empty list")
	}
	p.screenshot("nodes-regions-desktop")

	t.Log("give lb-0-bare a region in its form: its card moves to that region's group")
	p.do("edit lb-0-bare", chromedp.Click(chromedp.CSS(card(bare)+` [data-action="edit"]`)))
	p.waitJS("the node form with empty labels", `document.querySelector('dialog[open] input[name="labels"]').value === ""`)
	p.do("type labels and save",
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="labels"]`), "tier=gold, region=us-east"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the form to close", `!document.querySelector("dialog[open]")`)
	p.waitJS("lb-0-bare in us-east, the empty group gone", fmt.Sprintf(`(%s) === "eu-west: lb-a-eu | us-east: lb-0-bare, lb-b-us"`, groups))
	if got, err := fl.GetNode(ctx, bare.ID); err != nil || got.Labels.String() != "region=us-east,tier=gold" {
		t.Fatalf("lb-0-bare's labels after the form: %v, %v", got.Labels, err)
	}

	t.Log("a bad label is refused beside the field, with the API's message, and nothing changes")
	p.do("edit lb-b-us", chromedp.Click(chromedp.CSS(card(us)+` [data-action="edit"]`)))
	p.waitJS("the node form with lb-b-us's labels", `document.querySelector('dialog[open] input[name="labels"]').value === "region=us-east"`)
	p.do("type a bad label and save",
		clearInput(`dialog input[name="labels"]`),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="labels"]`), "region=us-west, Tier=gold"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	_, verr := fl.UpdateNode(ctx, fleet.ActorSystem, us.ID, fleet.NodeInput{Labels: labels.Set{"region": "us-west", "Tier": "gold"}})
	var ve *fleet.ValidationError
	if !errors.As(verr, &ve) || ve.Field != "labels" {
		t.Fatalf("the API accepts label Tier or blames another field: %v", verr)
	}
	p.waitJS("the labels' error beside the field", fmt.Sprintf(`visibleText('dialog [data-field="labels"] .field-error') === %q`, ve.Message))
	p.screenshot("node-form-labels-error-desktop")
	p.do("fix it: no labels at all",
		clearInput(`dialog input[name="labels"]`),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the form to close", `!document.querySelector("dialog[open]")`)
	p.waitJS("lb-b-us without a region", fmt.Sprintf(`(%s) === "eu-west: lb-a-eu | us-east: lb-0-bare | No region: lb-b-us"`, groups))
	if got, err := fl.GetNode(ctx, us.ID); err != nil || len(got.Labels) != 0 {
		t.Fatalf("lb-b-us's labels after clearing: %v, %v", got.Labels, err)
	}

	t.Log("a change made elsewhere regroups the cards without a reload")
	p.evalBool(`(window.notReloaded = true)`)
	if _, err := fl.UpdateNode(ctx, fleet.ActorSystem, eu.ID, fleet.NodeInput{Labels: labels.Set{"region": "ap-south"}}); err != nil {
		t.Fatal(err)
	}
	p.waitJS("lb-a-eu in ap-south", fmt.Sprintf(`(%s) === "ap-south: lb-a-eu | us-east: lb-0-bare | No region: lb-b-us" && window.notReloaded === true`, groups))

	t.Log("the node page shows the labels; its drain dialog says the peers stay in the region")
	if _, err := fl.CreatePeer(ctx, fleet.ActorSystem, bare.ID, fleet.PeerInput{Name: new("lb-peer")}); err != nil {
		t.Fatal(err)
	}
	p.do("open lb-0-bare", chromedp.Click(chromedp.CSS(card(bare)+" h2 a")))
	p.waitJS("lb-0-bare's page with its labels", fmt.Sprintf(`location.pathname === "/nodes/%d" &&
		[...document.querySelectorAll(".facts-wide .labels .label")].map((l) => l.textContent).join() === "region=us-east,tier=gold" &&
		!document.querySelector('[data-action="drain"]').disabled`, bare.ID))

	// lb-0-bare has a peer and the others none: placement anywhere would
	// choose another node; placement in us-east can only choose lb-0-bare.
	t.Log("add a peer placed automatically in the node's region")
	p.do("open the peer form", chromedp.Click(chromedp.CSS(`[data-action="add-peer"]`)))
	p.waitJS("the region's placement choice", `[...document.querySelectorAll('dialog[open] select[name="node_id"] option')].map((o) => o.textContent).join("|") ===
		"This node (lb-0-bare)|Automatic placement|Automatic placement in region us-east"`)
	p.do("choose placement in us-east and add",
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="name"]`), "lb-placed"),
		chromedp.SetValue(chromedp.CSS(`dialog select[name="node_id"]`), "auto-region:us-east"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the form to close", `!document.querySelector("dialog[open]")`)
	placed := findPeer(t, fl, bare.ID, "lb-placed")
	if placed.NodeID != bare.ID {
		t.Fatalf("the peer placed in us-east is on node %d", placed.NodeID)
	}
	p.waitJS("lb-0-bare's two peers", `visibleText("#peer-count") === "2 peers"`)
	p.do("drain", chromedp.Click(chromedp.CSS(`[data-action="drain"]`)))
	p.waitJS("the drain confirmation names the region", `visibleText("dialog[open] .confirm-message").includes("stays in region us-east") &&
		visibleText("dialog[open] .check label").includes("other regions")`)
	p.screenshot("drain-region-confirm-desktop")
	p.do("confirm within the region", chromedp.Click(chromedp.CSS(`dialog[open] .btn-primary`)))
	// No other node is in us-east: the drain stops and says so.
	p.waitJS("the drain refused for want of room in the region", `visibleText(".toasts").includes("region us-east")`)
	if n, err := fl.ListPeers(ctx, bare.ID); err != nil || len(n) != 2 {
		t.Fatalf("lb-0-bare's peers after a drain with nowhere to go in its region: %d, %v", len(n), err)
	}
	p.checkProblems()
}
