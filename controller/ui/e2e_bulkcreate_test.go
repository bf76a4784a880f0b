package ui_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestBulkCreateInTheBrowser creates several peers from the fleet's Peers
// page with a real agent: a count the API refuses shows beside its field
// and makes nothing; then three peers named on from the prefix's highest
// number (laptop-7 exists: laptop-8, -9, -10) with a data limit are made
// on the node chosen, the result lists each with its node and address,
// they appear in the table, and the agent's dump holds their keys. The
// page and both dialogs pass checkAccessibility.
func TestBulkCreateInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a := agenttest.Start(t, agenttest.Options{})
	c, base := startController(t)
	ctx := context.Background()
	fl := c.Fleet()
	n := addAgentNode(t, fl, a, "bulk-a", "10.58.0.0/24")
	if _, err := fl.CreatePeer(ctx, fleet.ActorSystem, n.ID, fleet.PeerInput{Name: new("laptop-7")}); err != nil {
		t.Fatal(err)
	}

	const dialog = `dialog[open]`
	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	p.signIn()
	p.waitJS("the nodes page", `location.pathname === "/nodes"`)
	p.do("open Peers", chromedp.Click(chromedp.CSS(`#topnav a[href="/peers"]`)))
	p.waitJS("the one peer", `document.querySelectorAll("#fleet-rows tr").length === 1`)
	p.checkAccessibility("peers with the create button")

	p.do("create several…", chromedp.Click(chromedp.CSS("#fleet-create-several")))
	p.waitJS("the form, with the node offered", fmt.Sprintf(`!!document.querySelector(%q) &&
		[...document.querySelectorAll(%q)].some((o) => o.value === "%d")`, dialog+` input[name="count"]`, dialog+` select[name="node_id"] option`, n.ID))
	p.checkAccessibility("create several form")

	t.Log("a count over the limit: refused beside the field, nothing made")
	p.do("count 5000", clearInput(dialog+` input[name="count"]`), chromedp.SendKeys(chromedp.CSS(dialog+` input[name="count"]`), "5000"),
		chromedp.SendKeys(chromedp.CSS(dialog+` input[name="name_prefix"]`), "laptop-"),
		choose(dialog+` select[name="node_id"]`, fmt.Sprint(n.ID)),
		chromedp.SendKeys(chromedp.CSS(dialog+` input[name="data_limit_gib"]`), "5"))
	p.do("submit", chromedp.Click(chromedp.CSS(dialog+` button[type="submit"]`)))
	p.waitJS("the count's error", fmt.Sprintf(`!!document.querySelector(%q)`, dialog+` [data-field="count"] .field-error:not([hidden])`))
	if peers, err := fl.ListPeers(ctx, n.ID); err != nil || len(peers) != 1 {
		t.Fatalf("after the refused batch: %d peers, %v; want only laptop-7", len(peers), err)
	}

	t.Log("three peers: listed with node and address, in the table, on the agent")
	p.do("count 3", clearInput(dialog+` input[name="count"]`), chromedp.SendKeys(chromedp.CSS(dialog+` input[name="count"]`), "3"))
	p.do("submit", chromedp.Click(chromedp.CSS(dialog+` button[type="submit"]`)))
	p.waitJS("the result", fmt.Sprintf(`document.querySelectorAll("#bulk-created li").length === 3 &&
		visibleText(%q).startsWith("3 peers created") &&
		visibleText("#bulk-created li:first-child").startsWith("laptop-8 → bulk-a, 10.58.0.")`, dialog+" h2"))
	if got := p.evalString(`[...document.querySelectorAll("#bulk-created strong")].map((e) => e.textContent).join(",")`); got != "laptop-8,laptop-9,laptop-10" {
		t.Errorf("peers listed %q, want laptop-8,laptop-9,laptop-10", got)
	}
	p.checkAccessibility("create several result")
	p.do("close", chromedp.Click(chromedp.CSS(dialog+` .form-actions .btn-primary`)))
	p.waitJS("the four peers in the table", `!document.querySelector("dialog[open]") && document.querySelectorAll("#fleet-rows tr").length === 4 &&
		[...document.querySelectorAll("#fleet-rows .peer-name")].map((e) => e.textContent).join(",") === "laptop-7,laptop-8,laptop-9,laptop-10"`)

	peers, err := fl.ListPeers(ctx, n.ID)
	if err != nil || len(peers) != 4 {
		t.Fatalf("after the batch: %d peers, %v", len(peers), err)
	}
	for _, pv := range peers[1:] {
		if pv.DataLimit == nil || *pv.DataLimit != 5<<30 || !pv.HasPrivateKey {
			t.Errorf("peer %s: data limit %v, private key %v; want 5 GiB and one the controller made", pv.Name, pv.DataLimit, pv.HasPrivateKey)
		}
		eventually(t, pv.Name+" in the agent's dump", func() bool { return agentHas(t, a, pv.PublicKey) })
	}

	t.Log("the phone layout: the button and the form fit at 375 px")
	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH))
	p.do("create several…", chromedp.Click(chromedp.CSS("#fleet-create-several")))
	p.waitJS("the form at 375 px", `!!document.querySelector("dialog[open] input[name='count']") && document.documentElement.scrollWidth <= window.innerWidth`)
	p.screenshot("bulk-create-phone")
	p.do("cancel", chromedp.Click(chromedp.CSS(dialog+` [data-action="cancel"]`)))
	p.checkProblems()
}
