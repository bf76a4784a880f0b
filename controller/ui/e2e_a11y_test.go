package ui_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestAccessibility runs axe-core (checkAccessibility: light and dark,
// failing on serious and critical violations) on every page of the
// dashboard with real content: sign-in, nodes (a real agent's node
// online, one whose agent is gone with its error), the node form and the
// enrollment dialog, a node's page with peers (one restricted) and the
// peer form, audit, webhooks, and a share link's page; and at the phone's
// width.
func TestAccessibility(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a := agenttest.Start(t, agenttest.Options{Addresses: []netip.Prefix{netip.MustParsePrefix("10.95.0.1/24")}})
	c, base := startController(t)
	ctx := context.Background()
	fl := c.Fleet()
	node := addAgentNode(t, fl, a, "a11y-edge", "10.95.0.0/24")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gone := "http://" + ln.Addr().String()
	ln.Close()
	if _, err := fl.CreateNode(ctx, fleet.ActorSystem, fleet.NodeInput{
		Name: new("a11y-gone"), AgentURL: new(gone), Secret: new(strings.Repeat("s", 32)),
		Endpoint: new("gone.example.net:51820"), IPPool: new("10.94.0.0/24"),
	}); err != nil {
		t.Fatal(err)
	}
	peer, err := fl.CreatePeer(ctx, fleet.ActorSystem, node.ID, fleet.PeerInput{Name: new("a11y-laptop")})
	if err != nil {
		t.Fatal(err)
	}
	limited, err := fl.CreatePeer(ctx, fleet.ActorSystem, node.ID, fleet.PeerInput{Name: new("a11y-phone"), DataLimit: []byte("1073741824")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fl.SetPeerEnabled(ctx, fleet.ActorSystem, limited.ID, false); err != nil {
		t.Fatal(err)
	}
	token, _, err := fl.CreateShare(ctx, fleet.ActorSystem, peer.ID, fleet.ShareInput{})
	if err != nil {
		t.Fatal(err)
	}

	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))

	p.navigate("/share/" + token)
	p.waitJS("the share page", `!!document.querySelector("#share-download")`)
	p.checkAccessibility("share page")

	p.navigate("/")
	p.waitJS("the sign-in page", `!!document.querySelector("#login-username")`)
	p.checkAccessibility("sign-in")
	p.signIn()

	card := fmt.Sprintf(`li.node-card[data-node-id="%d"]`, node.ID)
	p.waitJS("the nodes, one online and one gone", fmt.Sprintf(`visibleText(%q) === "online" && !!document.querySelector(".node-card .last-error .message-text")`, card+" .badge"))
	p.checkAccessibility("nodes")
	p.do("open the node form", chromedp.Click(chromedp.CSS("#add-node")))
	p.waitJS("the node form", `!!document.querySelector("dialog[open] form")`)
	p.checkAccessibility("node form")
	p.do("open the enrollment form", chromedp.Click(chromedp.CSS(`dialog[open] [data-action="enroll"]`)))
	p.waitJS("the enrollment form", `!!document.querySelector('dialog[open] input[name="expires_in"]')`)
	p.checkAccessibility("enrollment form")
	p.do("close it", chromedp.KeyEvent(kb.Escape))
	p.waitJS("no dialog", `!document.querySelector("dialog[open]")`)

	p.do("open the node", chromedp.Click(chromedp.CSS(card+" h2 a")))
	p.waitJS("the node page with its peers", fmt.Sprintf(`location.pathname === "/nodes/%d" && visibleText("#peer-count") === "2 peers" &&
		visibleText('tr[data-peer-id="%d"] .badge') === "restricted"`, node.ID, limited.ID))
	p.checkAccessibility("node detail")
	p.do("open the peer form", chromedp.Click(chromedp.CSS(`[data-action="add-peer"]`)))
	p.waitJS("the peer form", `!!document.querySelector('dialog[open] input[name="name"]')`)
	p.checkAccessibility("peer form")
	p.do("close it", chromedp.KeyEvent(kb.Escape))

	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH))
	p.waitJS("no dialog", `!document.querySelector("dialog[open]")`)
	p.checkAccessibility("node detail at 375 px")
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))

	p.navigate("/peers")
	p.waitJS("the fleet's peers", `location.pathname === "/peers" && document.querySelectorAll("#fleet-rows tr").length === 2`)
	p.checkAccessibility("peers")

	p.navigate("/audit")
	p.waitJS("the audit log", `!!document.querySelector("#audit-rows tr")`)
	p.checkAccessibility("audit")

	p.navigate("/webhooks")
	p.waitJS("the webhooks page", `!!document.querySelector("#add-webhook") && !document.querySelector(".page .loading:not([hidden])")`)
	p.checkAccessibility("webhooks")
	p.checkProblems()
}
