package ui_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestAuditPageInTheBrowser: a node disabled from its card shows on the
// Audit page (reached from the navigation) as an entry by the signed-in
// user, newest first; the actor and target filters select, and are kept
// in the page's address; older entries load on demand.
func TestAuditPageInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a := agenttest.Start(t, agenttest.Options{})
	c, base := startController(t)
	ctx := context.Background()
	n := addAgentNode(t, c.Fleet(), a, "audit-node", "10.54.0.0/24")
	// Enough older entries for a second page (the page asks for 50).
	for i := range 60 {
		if _, err := c.Store().AppendAudit(ctx, store.AuditEntry{
			Actor: "token:filler", Action: "peer.update", TargetType: "peer", TargetID: fmt.Sprint(9000 + i),
			Details: []byte(fmt.Sprintf(`{"name":"filler-%d"}`, i)),
		}); err != nil {
			t.Fatal(err)
		}
	}
	// rows is the table as text: "actor action target" per row.
	const rows = `[...document.querySelectorAll("#audit-rows tr")].map((r) =>
		[".audit-actor", ".audit-action", ".audit-target"].map((s) => r.querySelector(s).textContent).join(" "))`
	wantDisable := fmt.Sprintf("user:admin node.disable node:%d", n.ID)

	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username") && location.pathname === "/login"`)
	p.signIn()
	p.waitJS("the nodes page", `!!document.querySelector("#add-node") && location.pathname === "/nodes"`)
	card := fmt.Sprintf(`li.node-card[data-node-id="%d"]`, n.ID)
	p.waitJS("audit-node's card", fmt.Sprintf(`!!document.querySelector(%q)`, card+` [data-action="toggle"]`))
	p.do("disable audit-node", chromedp.Click(chromedp.CSS(card+` [data-action="toggle"]`)))
	p.waitJS("audit-node disabled", `visibleText(".toasts").includes("audit-node")`)

	t.Log("the Audit page, from the navigation, shows the change first, by the user who made it")
	p.do("open Audit", chromedp.Click(chromedp.CSS(`#topnav a[href="/audit"]`)))
	p.waitJS("the audit page with the disable first", fmt.Sprintf(`location.pathname === "/audit" && (%s)[0] === %q`, rows, wantDisable))
	if got := p.evalInt(`document.querySelectorAll("#audit-rows tr").length`); got != 50 {
		t.Fatalf("first page holds %d rows, want 50", got)
	}
	if !p.evalBool(`visibleText("#audit-rows tr .audit-details").includes("name: audit-node")`) {
		t.Errorf("the entry's details do not name the node: %q", p.evalString(`visibleText("#audit-rows tr .audit-details")`))
	}
	p.screenshot("audit-desktop")

	t.Log("older entries load on demand, to the first one")
	p.do("older entries", chromedp.Click(chromedp.CSS("#audit-more")))
	// The first entry of all is the admin's bootstrap.
	p.waitJS("every entry listed, the button gone", fmt.Sprintf(`(%s).length === 63 && !!document.querySelector("#audit-more").hidden &&
		(%s).slice(60).join("|") === %q`, rows, rows,
		fmt.Sprintf("token:filler peer.update peer:9000|system node.create node:%d|system user.create user:1", n.ID)))

	t.Log("filters: by actor, then by target; the address keeps them")
	p.do("filter by actor user:admin",
		chromedp.SendKeys(chromedp.CSS("#audit-actor"), "user:admin"),
		chromedp.Click(chromedp.CSS(`#audit-filters button[type="submit"]`)))
	p.waitJS("only the user's entry", fmt.Sprintf(`(%s).join("|") === %q && location.search === "?actor=user%%3Aadmin"`, rows, wantDisable))
	p.do("filter by target instead",
		clearInput("#audit-actor"),
		chromedp.SendKeys(chromedp.CSS("#audit-target"), fmt.Sprintf("node:%d", n.ID)),
		chromedp.Click(chromedp.CSS(`#audit-filters button[type="submit"]`)))
	p.waitJS("the node's two entries", fmt.Sprintf(`(%s).join("|") === %q`, rows,
		wantDisable+"|"+fmt.Sprintf("system node.create node:%d", n.ID)))

	t.Log("a bad filter says why, and a reload keeps a good one")
	p.do("a bad target", clearInput("#audit-target"),
		chromedp.SendKeys(chromedp.CSS("#audit-target"), "Node!"),
		chromedp.Click(chromedp.CSS(`#audit-filters button[type="submit"]`)))
	p.waitJS("the API's message", `visibleText(".audit-filters ~ .form-error").includes("type or type:id")`)
	p.navigate("/audit?actor=token%3Afiller&target=peer%3A9003")
	p.waitJS("the filtered page after a load", `(`+rows+`).join("|") === "token:filler peer.update peer:9003" &&
		document.querySelector("#audit-actor").value === "token:filler"`)
	p.checkProblems()
}
