package ui_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestMessagesInTheBrowser: what the dashboard says is a sentence a
// person can act on. The first visit logs no failed request (no 401 from
// a session check); a node whose agent cannot be reached says so in one
// sentence with the address and the reason, the Go error chain behind a
// disclosure; a peer address outside the pool and a bad route are one
// sentence each beside their field, the route's naming the bad entry of
// the comma-separated list.
func TestMessagesInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	c, base := startController(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	node, err := c.Fleet().CreateNode(context.Background(), fleet.ActorSystem, fleet.NodeInput{
		Name: new("msg-gone"), AgentURL: new("http://" + closed), Secret: new(strings.Repeat("s", 32)),
		Endpoint: new("vpn.example.net:51820"), IPPool: new("10.101.0.0/24"),
	})
	if err != nil {
		t.Fatal(err)
	}

	p := startBrowser(t, exe, base)
	p.navigate("/")
	p.waitJS("the sign-in page", `location.pathname === "/login" && !!document.querySelector("#login-username")`)
	p.mu.Lock()
	noise := p.network
	p.mu.Unlock()
	if len(noise) != 0 {
		t.Errorf("the first visit logged failed requests: %q", noise)
	}
	p.signIn()

	card := fmt.Sprintf(`li.node-card[data-node-id="%d"]`, node.ID)
	want := "Cannot reach the agent at " + closed + " (connection refused)"
	p.waitJS("the card's sentence", fmt.Sprintf(`visibleText(%q) === %q && visibleText(%q) === "Details" &&
		!document.querySelector(%q).open`, card+" .last-error .message-text", want, card+" .last-error summary", card+" .last-error details"))
	if !p.evalBool(fmt.Sprintf(`document.querySelector(%q).textContent.includes("dial tcp")`, card+" .last-error details p")) {
		t.Error("the Go error is not behind the disclosure")
	}
	p.do("open the detail", chromedp.Click(chromedp.CSS(card+" .last-error summary")))
	p.waitJS("the detail shown", fmt.Sprintf(`document.querySelector(%q).open && visibleText(%q).includes("connection refused")`,
		card+" .last-error details", card+" .last-error details p"))
	p.screenshot("unreachable-detail-desktop")

	t.Log("a node's test says the same, with its detail")
	p.do("test it", chromedp.Click(chromedp.CSS(card+` [data-action="test"]`)))
	p.waitJS("the test's sentence", fmt.Sprintf(`visibleText(%q) === %q && visibleText(%q).includes("dial tcp")`,
		card+" .test-result.failed .message-text", "Connection failed: "+want, card+" .test-result.failed details p"))

	t.Log("a peer's address and routes: one sentence each")
	p.do("open the node", chromedp.Click(chromedp.CSS(card+" h2 a")))
	p.waitJS("the node page", fmt.Sprintf(`location.pathname === "/nodes/%d" && !!document.querySelector('[data-action="add-peer"]')`, node.ID))
	p.do("add a peer outside the pool",
		chromedp.Click(chromedp.CSS(`[data-action="add-peer"]`)),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="name"]`), "msg-peer"),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="address"]`), "10.55.0.9"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the address's sentence", `visibleText('dialog [data-field="address"] .field-error') === "10.55.0.9 is not in the node's pool 10.101.0.0/24"`)
	p.do("a bad route among good ones",
		clearInput(`dialog input[name="address"]`),
		clearInput(`dialog input[name="client_allowed_ips"]`),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="client_allowed_ips"]`), "0.0.0.0/0, 10.0.0.300/24"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the route's sentence", `visibleText('dialog [data-field="client_allowed_ips"] .field-error') ===
		'"10.0.0.300/24" is not a CIDR prefix; give a comma-separated list of prefixes such as 0.0.0.0/0, ::/0 or 10.8.0.0/24'`)
	p.checkProblems()
}
