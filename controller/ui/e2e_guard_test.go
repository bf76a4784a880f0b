package ui_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestGuardRailsInTheBrowser: a node added without an endpoint gets one
// derived from its agent (here on loopback: the host of the controller's
// public URL and the agent's listen port), which a notice names and the
// node's card and page show; a peer's name is required (the form will
// not send without it) and a name another peer of the node has, in any
// letter case, is refused beside the field with the API's sentence.
func TestGuardRailsInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	tc := controllertest.StartWith(t, controllertest.Options{PollInterval: time.Second, PublicURL: "https://vpn.guard-ui.example"})
	a := agenttest.Start(t, agenttest.Options{})
	endpoint := "vpn.guard-ui.example:" + strconv.Itoa(a.Tunnel(a.Iface).ListenPort())

	p := startBrowser(t, exe, tc.URL)
	p.navigate("/")
	p.signIn()
	p.waitJS("the nodes page", `!!document.querySelector("#add-node") && location.pathname === "/nodes"`)

	t.Log("add a node without an endpoint: it is derived and shown")
	p.do("open the node form", chromedp.Click(chromedp.CSS("#add-node")))
	p.waitJS("the node form, its endpoint optional", `!!document.querySelector("dialog[open] form") &&
		!document.querySelector('dialog input[name="endpoint"]').required &&
		visibleText('dialog [data-field="endpoint"]').includes("Left empty, it is derived")`)
	p.do("fill the node form",
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="name"]`), "guard-ui"),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="agent_url"]`), a.URL),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="secret"]`), a.Secret),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="ip_pool_cidr"]`), "10.107.0.0/24"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the notice naming the endpoint", fmt.Sprintf(`[...document.querySelectorAll(".toast-success")].some((el) =>
		el.textContent.includes("guard-ui: saved. Its endpoint %s was derived from the agent's address and listen port"))`, endpoint))
	nodes, err := tc.Fleet().ListNodes(context.Background())
	if err != nil || len(nodes) != 1 || nodes[0].Endpoint != endpoint {
		t.Fatalf("nodes after the form: %+v, %v; want guard-ui with endpoint %s", nodes, err, endpoint)
	}
	card := fmt.Sprintf(`li.node-card[data-node-id="%d"]`, nodes[0].ID)
	factOf := func(scope string) string {
		return fmt.Sprintf(`[...document.querySelectorAll(%q)].find((dt) => dt.textContent === "Endpoint")?.nextElementSibling?.textContent`, scope+" dt")
	}
	p.waitJS("the card shows the endpoint", fmt.Sprintf(`%s === %q`, factOf(card), endpoint))
	p.do("open the node", chromedp.Click(chromedp.CSS(card+" h2 a")))
	p.waitJS("the node page shows it", fmt.Sprintf(`location.pathname === "/nodes/%d" && %s === %q`, nodes[0].ID, factOf(".page"), endpoint))

	t.Log("a peer needs a name, one of its own on the node")
	p.waitJS("the add-peer button", `!!document.querySelector('[data-action="add-peer"]')`)
	p.do("open the peer form", chromedp.Click(chromedp.CSS(`[data-action="add-peer"]`)))
	p.waitJS("the peer form", `!!document.querySelector('dialog[open] input[name="name"]')`)
	p.do("send it without a name", chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the name is required", `document.querySelector('dialog input[name="name"]').required &&
		document.querySelector('dialog input[name="name"]').validity.valueMissing && !!document.querySelector("dialog[open]")`)
	if peers, err := tc.Fleet().ListPeers(context.Background(), nodes[0].ID); err != nil || len(peers) != 0 {
		t.Fatalf("a peer form without a name created %d peers, %v", len(peers), err)
	}
	p.do("name it alice",
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="name"]`), "alice"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("alice in the list", `!document.querySelector("dialog[open]") && [...document.querySelectorAll("td")].some((td) => td.textContent.trim() === "alice")`)
	peers, err := tc.Fleet().ListPeers(context.Background(), nodes[0].ID)
	if err != nil || len(peers) != 1 {
		t.Fatalf("peers: %+v, %v", peers, err)
	}

	p.do("open the peer form again", chromedp.Click(chromedp.CSS(`[data-action="add-peer"]`)))
	p.waitJS("the peer form", `!!document.querySelector('dialog[open] input[name="name"]')`)
	p.do("another ALICE",
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="name"]`), "ALICE"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	want := fmt.Sprintf("a peer named alice is already on node guard-ui (peer %d); choose another name", peers[0].ID)
	p.waitJS("the duplicate refused beside the name", fmt.Sprintf(`visibleText('dialog [data-field="name"] .field-error') === %q &&
		document.activeElement === document.querySelector('dialog input[name="name"]')`, want))
	p.checkAccessibility("a node's page with a peer name refused")
	if peers, err := tc.Fleet().ListPeers(context.Background(), nodes[0].ID); err != nil || len(peers) != 1 {
		t.Fatalf("a refused name created a peer: %d peers, %v", len(peers), err)
	}
	p.checkProblems()
}
