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

// choose sets a <select> to value as a user would, with a change event.
func choose(sel, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const el = document.querySelector(%q); el.value = %q; el.dispatchEvent(new Event("change", {bubbles: true})); })()`, sel, value))
}

// TestFleetPeersPageInTheBrowser drives the fleet's Peers page with two
// real agents: the first page of 100 and the rest on scrolling, a search
// typed (debounced) and kept in the address, the node and status filters,
// two peers ticked and restricted in bulk (the agent's dump loses them),
// a bulk delete after its confirmation where one peer, deleted meanwhile
// by someone else, is listed as failed while the other goes, and a bulk
// move to another node (the peer arrives on that node's agent).
func TestFleetPeersPageInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	aa, ab := agenttest.Start(t, agenttest.Options{}), agenttest.Start(t, agenttest.Options{})
	c, base := startController(t)
	ctx := context.Background()
	fl := c.Fleet()
	na := addAgentNode(t, fl, aa, "fleet-a", "10.56.0.0/22")
	nb := addAgentNode(t, fl, ab, "fleet-b", "10.57.0.0/24")
	if _, err := fl.CreatePeers(ctx, fleet.ActorSystem, fleet.BulkPeerInput{Count: new(130), NamePrefix: new("desk-"),
		PeerInput: fleet.PeerInput{NodeID: []byte(fmt.Sprint(na.ID))}}); err != nil {
		t.Fatal(err)
	}
	mk := func(nodeID int64, name string) fleet.PeerView {
		p, err := fl.CreatePeer(ctx, fleet.ActorSystem, nodeID, fleet.PeerInput{Name: new(name)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	laptop, phone := mk(nb.ID, "alice-laptop"), mk(nb.ID, "alice-phone")
	bob := mk(na.ID, "bob-phone")
	waitApplied(t, fl, laptop.ID)
	waitApplied(t, fl, phone.ID)

	const rows = `document.querySelectorAll("#fleet-rows tr").length`
	const names = `[...document.querySelectorAll("#fleet-rows .peer-name")].map((e) => e.textContent).join(",")`

	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	p.signIn()
	p.waitJS("the nodes page", `location.pathname === "/nodes"`)
	p.do("open Peers", chromedp.Click(chromedp.CSS(`#topnav a[href="/peers"]`)))
	p.waitJS("the first page of 100", fmt.Sprintf(`location.pathname === "/peers" && %s === 100 && !document.querySelector("#fleet-more").hidden`, rows))
	if got := p.evalString(`visibleText("#fleet-rows tr:first-child td:nth-child(3)")`); got != "fleet-a" {
		t.Errorf("the first row's node %q, want fleet-a", got)
	}
	p.screenshot("fleet-peers-desktop")

	t.Log("scrolling to the end loads the rest")
	p.do("scroll to the end", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.body.scrollHeight)`))
	p.waitJS("every peer listed", fmt.Sprintf(`%s === 133 && document.querySelector("#fleet-more").hidden`, rows))

	// The search also matches public keys, which are random: a term with
	// a "-", which base64 keys never hold (and addresses hold no letters),
	// can only match names. "bob" alone matched one of the 130 desks' keys
	// in about one run of six.
	t.Log("a search typed, kept in the address")
	p.do("search alice-", chromedp.SendKeys(chromedp.CSS("#fleet-q"), "alice-"))
	p.waitJS("alice's two peers", fmt.Sprintf(`(%s) === "alice-laptop,alice-phone" && location.search === "?q=alice-"`, names))
	p.do("node fleet-a", choose("#fleet-node", fmt.Sprint(na.ID)))
	p.waitJS("none of alice's on fleet-a", `visibleText(".empty").includes("No peers match") && `+rows+` === 0`)
	p.do("any node, no search", choose("#fleet-node", ""), clearInput("#fleet-q"))
	p.waitJS("the whole list again", fmt.Sprintf(`%s >= 100 && location.search === ""`, rows))
	p.do("node fleet-b", choose("#fleet-node", fmt.Sprint(nb.ID)))
	p.waitJS("fleet-b's peers", fmt.Sprintf(`(%s) === "alice-laptop,alice-phone"`, names))

	t.Log("select both and restrict them in bulk")
	row := func(id int64) string { return fmt.Sprintf(`#fleet-rows tr[data-peer-id="%d"]`, id) }
	p.do("tick both", chromedp.Click(chromedp.CSS(row(laptop.ID)+" .fleet-select")), chromedp.Click(chromedp.CSS(row(phone.ID)+" .fleet-select")))
	p.waitJS("two selected", `visibleText("#fleet-count") === "2 peers selected" && document.querySelector("#fleet-select-all").checked`)
	p.do("restrict", chromedp.Click(chromedp.CSS(`#fleet-bulk [data-bulk="restrict"]`)))
	p.waitJS("both restricted", fmt.Sprintf(`visibleText("#fleet-result") === "2 peers restricted." &&
		visibleText(%q) === "restricted" && visibleText(%q) === "restricted" && visibleText("#fleet-count") === "No peer selected"`,
		row(laptop.ID)+" .badge", row(phone.ID)+" .badge"))
	eventually(t, "the agent's dump without them", func() bool {
		return !agentHas(t, ab, laptop.PublicKey) && !agentHas(t, ab, phone.PublicKey)
	})
	for _, id := range []int64{laptop.ID, phone.ID} {
		v, err := fl.GetPeer(ctx, id)
		if err != nil || v.Status != "restricted" {
			t.Errorf("peer %d after the bulk restrict: %+v %v", id, v.Status, err)
		}
	}

	t.Log("the status filter; a bulk delete where one peer is already gone")
	p.do("any node, restricted", choose("#fleet-node", ""), choose("#fleet-status", "restricted"))
	p.waitJS("the two restricted", fmt.Sprintf(`(%s) === "alice-laptop,alice-phone" && location.search === "?status=restricted"`, names))
	p.do("select all", chromedp.Click(chromedp.CSS("#fleet-select-all")))
	p.waitJS("two selected", `visibleText("#fleet-count") === "2 peers selected"`)
	p.do("delete…", chromedp.Click(chromedp.CSS(`#fleet-bulk [data-bulk="delete"]`)))
	p.waitJS("the confirmation", `visibleText("dialog[open] .confirm-message").startsWith("Delete 2 peers?")`)
	// Someone else deletes alice-phone while the question is open.
	if err := fl.DeletePeer(ctx, fleet.ActorSystem, phone.ID); err != nil {
		t.Fatal(err)
	}
	p.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] .btn-danger`)))
	p.waitJS("one deleted, one failed", fmt.Sprintf(`visibleText("#fleet-result").startsWith("1 peer deleted; 1 failed:") &&
		visibleText("#fleet-result li").startsWith("alice-phone: ") && visibleText("#fleet-result li").includes("not found") &&
		!document.querySelector(%q)`, row(laptop.ID)))
	if _, err := fl.GetPeer(ctx, laptop.ID); err == nil {
		t.Error("alice-laptop is still there after the bulk delete")
	}

	t.Log("a bulk move to another node, confirmed: the peer arrives on its agent")
	p.do("every status, search bob-", choose("#fleet-status", ""), chromedp.SendKeys(chromedp.CSS("#fleet-q"), "bob-"))
	p.waitJS("bob's peer", fmt.Sprintf(`(%s) === "bob-phone"`, names))
	p.do("tick bob-phone, choose fleet-b", chromedp.Click(chromedp.CSS(row(bob.ID)+" .fleet-select")), choose("#fleet-move-target", fmt.Sprint(nb.ID)))
	p.do("move", chromedp.Click(chromedp.CSS(`#fleet-bulk [data-bulk="move"]`)))
	p.waitJS("the move's confirmation", `visibleText("dialog[open] .confirm-message").startsWith("Move 1 peer to fleet-b?")`)
	p.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] .btn-primary`)))
	p.waitJS("bob-phone on fleet-b", fmt.Sprintf(`visibleText("#fleet-result") === "1 peer moved." && visibleText(%q) === "fleet-b"`,
		row(bob.ID)+" td:nth-child(3)"))
	eventually(t, "bob-phone on fleet-b's agent, off fleet-a's", func() bool {
		return agentHas(t, ab, bob.PublicKey) && !agentHas(t, aa, bob.PublicKey)
	})
	p.do("clear the search", clearInput("#fleet-q"))

	t.Log("the phone layout: no sideways scrolling")
	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH))
	p.waitJS("the list at 375 px", rows+` >= 100 && document.documentElement.scrollWidth <= window.innerWidth`)
	p.screenshot("fleet-peers-phone")
	p.checkProblems()
}
