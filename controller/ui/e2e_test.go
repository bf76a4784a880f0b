package ui_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
	"github.com/wgfleet/wgfleet/internal/testenv"
	"github.com/wgfleet/wgfleet/internal/version"
)

const adminPassword = controllertest.AdminPassword

// stepTimeout bounds every browser step; the page refreshes every 5 s and
// the controller polls agents every second, so 30 s is ample.
const stepTimeout = 30 * time.Second

// The screen sizes of the screenshots: a laptop, and a phone.
const (
	desktopW, desktopH = 1280, 800
	phoneW, phoneH     = 375, 812
)

// TestDashboardEndToEnd drives the dashboard in headless Chromium against
// a running controller with two real agents in netstack mode, the way an
// operator would: sign in, add a node (after a bad CIDR that the API
// refuses beside its field), test it, watch numbers refresh by themselves,
// add peers, search and sort them, download a config, show a QR code,
// restrict and allow, delete a peer, reconcile, look at the phone layout,
// disable a node, delete one with its peers, lose the session, sign out.
// It fails on any script exception or CSP violation in the page.
func TestDashboardEndToEnd(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a1 := agenttest.Start(t, agenttest.Options{}) // wg0, 10.99.0.1/24
	a2 := agenttest.Start(t, agenttest.Options{Addresses: []netip.Prefix{netip.MustParsePrefix("10.98.0.1/24")}})
	c, base := startController(t)
	ctx := context.Background()
	fl := c.Fleet()

	// A second node made outside the browser: the grid has two cards, and
	// changes to it show that the page refreshes by itself.
	other := addAgentNode(t, fl, a2, "edge-2", "10.98.0.0/24")

	// The controller serves the UI with the API's security headers: the
	// checks for CSP violations below are only worth something with them.
	res, err := http.Get(base + "/nodes")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("GET /nodes: %d, Content-Type %q, CSP %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Content-Security-Policy"))
	}

	p := startBrowser(t, exe, base)

	t.Log("sign-in page, wrong password, then the right one")
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username") && location.pathname === "/login"`)
	p.screenshot("login-desktop")
	p.do("type a wrong password",
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "not-the-password"),
		chromedp.Click(chromedp.CSS(`.login-form button[type="submit"]`)))
	p.waitJS("the sign-in error", `visibleText("#login-error").includes("invalid username or password")`)
	p.signIn()
	p.waitJS("the nodes page", `!!document.querySelector("#add-node") && location.pathname === "/nodes"`)
	card2 := fmt.Sprintf(`li.node-card[data-node-id="%d"]`, other.ID)
	p.waitJS("edge-2's card", fmt.Sprintf(`visibleText(%q).includes("edge-2")`, card2))

	t.Log("add a node: a bad CIDR is refused beside its field")
	p.do("open the node form", chromedp.Click(chromedp.CSS("#add-node")))
	p.waitJS("the node form", `!!document.querySelector("dialog[open] form")`)
	badPool := "10.99.0.0/33"
	p.do("fill the node form",
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="name"]`), "edge-1"),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="agent_url"]`), a1.URL),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="secret"]`), a1.Secret),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="endpoint"]`), endpointOf(a1)),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="ip_pool_cidr"]`), badPool),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	// The message beside the field is the API's own, word for word.
	_, verr := fl.CreateNode(ctx, fleet.ActorSystem, fleet.NodeInput{
		Name: new("edge-1"), AgentURL: new(a1.URL), Secret: new(a1.Secret), Endpoint: new(endpointOf(a1)), IPPool: new(badPool),
	})
	var ve *fleet.ValidationError
	if !errors.As(verr, &ve) || ve.Field != "ip_pool_cidr" {
		t.Fatalf("the API accepts %s or blames another field: %v", badPool, verr)
	}
	p.waitJS("the pool's error beside its field", fmt.Sprintf(
		`visibleText('dialog [data-field="ip_pool_cidr"] .field-error') === %q`, ve.Message))
	if !p.evalBool(`document.querySelector('dialog input[name="ip_pool_cidr"]').getAttribute("aria-invalid") === "true" &&
		document.activeElement.name === "ip_pool_cidr" && !document.querySelector("dialog .form-error:not([hidden])")`) {
		t.Error("the invalid field is not marked, not focused, or the error also shows above the form")
	}
	p.screenshot("node-form-error-desktop")

	p.do("fix the pool and test the connection from the form",
		clearInput(`dialog input[name="ip_pool_cidr"]`),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="ip_pool_cidr"]`), "10.99.0.0/24"),
		chromedp.Click(chromedp.CSS(`dialog [data-action="test-form"]`)))
	p.waitJS("the form's connection test", `visibleText("dialog .test-result.ok").startsWith("Connection OK")`)
	p.do("save the node", chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the form to close", `!document.querySelector("dialog[open]")`)
	node := findNode(t, fl, "edge-1")
	card1 := fmt.Sprintf(`li.node-card[data-node-id="%d"]`, node.ID)
	p.waitJS("edge-1's card", fmt.Sprintf(`visibleText(%q).includes(%q)`, card1, a1.URL))

	t.Log("test the node from its card; its status turns online by itself")
	p.do("test edge-1", chromedp.Click(chromedp.CSS(card1+` [data-action="test"]`)))
	p.waitJS("the test result on the card", fmt.Sprintf(`visibleText(%q).startsWith("Connection OK")`, card1+" .test-result.ok"))
	p.waitJS("edge-1 online", fmt.Sprintf(`visibleText(%q) === "online"`, card1+" .badge.status-online"))
	p.waitJS("edge-1 seen", fmt.Sprintf(`/^Last seen (just now|\d+ s ago)$/.test(visibleText(%q))`, card1+" .last-seen"))
	// The agent's version as it reported it in /health (the agent runs in
	// this test binary).
	p.waitJS("edge-1's agent version", fmt.Sprintf(`visibleText(%q) === %q`, card1+" .agent-version", version.Get().Version))

	t.Log("numbers refresh without a reload")
	p.evalBool(`(window.notReloaded = true)`)
	if got := p.evalString(`visibleText(` + jsString(card2+" .peer-count") + `)`); got != "0 (no limit)" {
		t.Fatalf("edge-2's peer count reads %q before any peer", got)
	}
	if _, err := fl.CreatePeer(ctx, fleet.ActorSystem, other.ID, fleet.PeerInput{Name: new("made-elsewhere")}); err != nil {
		t.Fatal(err)
	}
	p.waitJS("edge-2's peer count to follow", fmt.Sprintf(`visibleText(%q) === "1 (no limit)" && window.notReloaded === true`, card2+" .peer-count"))
	p.screenshot("nodes-desktop")

	t.Log("node detail: add peers, with the focus held in the modal")
	p.do("open edge-1", chromedp.Click(chromedp.CSS(card1+" h2 a")))
	p.waitJS("edge-1's page", fmt.Sprintf(`location.pathname === "/nodes/%d" && visibleText("h1").startsWith("edge-1") && visibleText(".peers-section .empty").startsWith("No peers") &&
		visibleText(".facts-wide .agent-version") === %q && visibleText(".facts-wide .tls-pin") === "plain http (not encrypted)" &&
		document.querySelector('[data-action="repin"]').hidden`, node.ID, version.Get().Version))
	p.do("open the peer form", chromedp.Click(chromedp.CSS(`[data-action="add-peer"]`)))
	p.waitJS("the peer form, name focused", `document.activeElement && document.activeElement.name === "name" && !!document.activeElement.closest("dialog[open]")`)
	for i := 0; i < 30; i++ {
		p.do("tab", chromedp.KeyEvent(kb.Tab))
		if !p.evalBool(`!!document.activeElement.closest("dialog[open]")`) {
			t.Fatalf("Tab #%d left the modal for %s", i+1, p.evalString(`document.activeElement.outerHTML.slice(0, 80)`))
		}
	}
	for i := 0; i < 5; i++ {
		p.do("shift+tab", chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
		if !p.evalBool(`!!document.activeElement.closest("dialog[open]")`) {
			t.Fatalf("Shift+Tab #%d left the modal", i+1)
		}
	}
	p.do("add alice",
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="name"]`), "alice-laptop"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the form to close", `!document.querySelector("dialog[open]")`)
	alice := findPeer(t, fl, node.ID, "alice-laptop")
	aliceRow := fmt.Sprintf(`tr[data-peer-id="%d"]`, alice.ID)
	p.waitJS("alice's row", fmt.Sprintf(`visibleText(%q).includes("alice-laptop") && visibleText(%q).includes(%q)`, aliceRow, aliceRow, alice.Address4))
	p.waitJS("alice's status", fmt.Sprintf(`visibleText(%q) === "never"`, aliceRow+" .badge"))

	p.do("add bob",
		chromedp.Click(chromedp.CSS(`[data-action="add-peer"]`)),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="name"]`), "bob-phone"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the form to close", `!document.querySelector("dialog[open]")`)
	bob := findPeer(t, fl, node.ID, "bob-phone")
	bobRow := fmt.Sprintf(`tr[data-peer-id="%d"]`, bob.ID)
	p.waitJS("bob's row", fmt.Sprintf(`visibleText(%q).includes("bob-phone")`, bobRow))

	t.Log("edit alice: a route with host bits is refused beside its field")
	p.do("edit alice", chromedp.Click(chromedp.CSS(aliceRow+` [data-action="edit"]`)))
	p.waitJS("the peer form with alice's routes", `document.querySelector('dialog[open] input[name="client_allowed_ips"]').value === "0.0.0.0/0, ::/0"`)
	p.do("give a bad route",
		clearInput(`dialog input[name="client_allowed_ips"]`),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="client_allowed_ips"]`), "10.99.0.1/24"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the route's error beside its field", `visibleText('dialog [data-field="client_allowed_ips"] .field-error') === "10.99.0.1/24 has host bits set; did you mean 10.99.0.0/24?"`)
	p.do("fix it",
		clearInput(`dialog input[name="client_allowed_ips"]`),
		chromedp.SendKeys(chromedp.CSS(`dialog input[name="client_allowed_ips"]`), "10.99.0.0/24, fd00::/64"),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the form to close", `!document.querySelector("dialog[open]")`)
	if got := findPeer(t, fl, node.ID, "alice-laptop"); !slices.Equal(got.ClientAllowedIPs, []string{"10.99.0.0/24", "fd00::/64"}) {
		t.Fatalf("alice's routes after the edit: %v", got.ClientAllowedIPs)
	}

	t.Log("search and sort")
	p.do("search for bob", chromedp.SendKeys(chromedp.CSS("#peer-search"), "bob"))
	p.waitJS("only bob", fmt.Sprintf(`document.querySelector(%q).hidden && !document.querySelector(%q).hidden && visibleText("#peer-count") === "1 of 2 peers"`, aliceRow, bobRow))
	p.do("clear the search", clearInput("#peer-search"))
	p.waitJS("both again", fmt.Sprintf(`!document.querySelector(%q).hidden && !document.querySelector(%q).hidden`, aliceRow, bobRow))
	p.waitJS("sorted by name", `document.querySelector("#peers-table tbody tr").textContent.includes("alice-laptop")`)
	p.do("sort by name, descending", chromedp.Click(chromedp.CSS(`button.sort[data-sort="name"]`)))
	p.waitJS("bob first", `document.querySelector("#peers-table tbody tr").textContent.includes("bob-phone") &&
		document.querySelector('button.sort[data-sort="name"]').closest("th").getAttribute("aria-sort") === "descending"`)

	t.Log("download alice's config")
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatal(err)
	}
	p.do("download", chromedp.Click(chromedp.CSS(aliceRow+` [data-action="config"]`)))
	conf := p.readDownload(dir)
	cc, err := wgconfig.Parse(conf)
	if err != nil {
		t.Fatalf("the downloaded config does not parse: %v\n%s", err, conf)
	}
	if cc.PrivateKey.PublicKey().String() != alice.PublicKey || cc.ServerPublicKey != a1.Tunnel(a1.Iface).PublicKey() ||
		!slices.Contains(cc.Addresses, netip.MustParsePrefix(alice.Address4+"/32")) || cc.Endpoint != endpointOf(a1) ||
		!slices.Equal(cc.AllowedIPs, []netip.Prefix{netip.MustParsePrefix("10.99.0.0/24"), netip.MustParsePrefix("fd00::/64")}) {
		t.Fatalf("the downloaded config is not alice's on edge-1:\n%s", conf)
	}
	p.waitJS("the download's toast", `visibleText(".toast-success:last-child").startsWith("Saved ")`)

	t.Log("alice's QR code, closed with Escape")
	p.do("show the QR", chromedp.Click(chromedp.CSS(aliceRow+` [data-action="qr"]`)))
	p.waitJS("the QR image", `(() => { const i = document.querySelector("dialog[open] img.qr"); return !!i && !i.hidden && i.complete && i.naturalWidth > 100; })()`)
	p.screenshot("qr-desktop")
	p.do("press Escape", chromedp.KeyEvent(kb.Escape))
	p.waitJS("the QR to close, focus back on its button", `!document.querySelector("dialog[open]") && document.activeElement.dataset.action === "qr"`)

	t.Log("no secret in the page")
	html := p.evalString(`document.documentElement.outerHTML`)
	for what, secret := range map[string]string{"agent secret": a1.Secret, "private key": cc.PrivateKey.String()} {
		if strings.Contains(html, secret) {
			t.Errorf("the page holds the %s", what)
		}
	}
	if cc.PresharedKey != nil && strings.Contains(html, cc.PresharedKey.String()) {
		t.Error("the page holds the preshared key")
	}

	t.Log("restrict and allow alice")
	p.do("restrict", chromedp.Click(chromedp.CSS(aliceRow+` [data-action="toggle"]`)))
	// Restricting asks first, the safe choice focused; Cancel changes
	// nothing.
	p.waitJS("the restrict confirmation", `visibleText("dialog[open] .confirm-message").startsWith("Restrict alice-laptop? It is taken off its node") &&
		document.activeElement.textContent === "Cancel"`)
	p.do("cancel", chromedp.Click(chromedp.CSS(`dialog[open] .form-actions .btn:not(.btn-danger)`)))
	p.waitJS("nothing restricted", fmt.Sprintf(`!document.querySelector("dialog[open]") && visibleText(%q) === "Restrict"`, aliceRow+` [data-action="toggle"]`))
	if got, err := fl.GetPeer(ctx, alice.ID); err != nil || !got.Enabled {
		t.Fatalf("after a cancelled restrict: enabled %v, %v", got.Enabled, err)
	}
	p.do("restrict, confirmed", chromedp.Click(chromedp.CSS(aliceRow+` [data-action="toggle"]`)))
	p.waitJS("the restrict confirmation again", `!!document.querySelector("dialog[open] .btn-danger")`)
	p.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] .btn-danger`)))
	p.waitJS("alice restricted", fmt.Sprintf(`visibleText(%q) === "restricted" && visibleText(%q) === "Allow"`, aliceRow+" .badge", aliceRow+` [data-action="toggle"]`))
	if got, err := fl.GetPeer(ctx, alice.ID); err != nil || got.Enabled {
		t.Fatalf("after restrict: enabled %v, %v", got.Enabled, err)
	}
	p.do("allow", chromedp.Click(chromedp.CSS(aliceRow+` [data-action="toggle"]`)))
	p.waitJS("alice allowed", fmt.Sprintf(`visibleText(%q) === "never" && visibleText(%q) === "Restrict"`, aliceRow+" .badge", aliceRow+` [data-action="toggle"]`))

	t.Log("delete bob")
	p.do("delete bob", chromedp.Click(chromedp.CSS(bobRow+` [data-action="delete"]`)))
	p.waitJS("the confirmation", `visibleText("dialog[open] .confirm-message").includes("bob-phone")`)
	p.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] .btn-danger`)))
	p.waitJS("bob's row to go", fmt.Sprintf(`!document.querySelector(%q) && visibleText("#peer-count") === "1 peer"`, bobRow))
	if _, err := fl.GetPeer(ctx, bob.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("bob after delete: %v", err)
	}

	t.Log("drift: the node only reports it, the page shows it, reconcile now repairs it")
	p.do("edit edge-1", chromedp.Click(chromedp.CSS(`.page-head [data-action="edit"]`)))
	p.waitJS("the node form", `document.querySelector('dialog[open] input[name="name"]').value === "edge-1"`)
	p.do("report drift only",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('dialog[open] select[name="drift_policy"]').value = "report"`),
		chromedp.Click(chromedp.CSS(`dialog button[type="submit"]`)))
	p.waitJS("the policy on the page", `!document.querySelector("dialog[open]") && visibleText(".facts-wide").includes("report only")`)
	aliceKey, err := wgtypes.ParseKey(alice.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "alice applied on edge-1", func() bool {
		got, err := fl.GetPeer(ctx, alice.ID)
		return err == nil && got.SyncState == "applied" && agentHas(t, a1, alice.PublicKey)
	})
	if err := a1.Client(t).DeletePeer(ctx, a1.Iface, aliceKey); err != nil {
		t.Fatal(err)
	}
	p.waitJS("the drift on the page", `visibleText(".notes .drift") === "Drift: 1 difference" &&
		visibleText(".facts-wide .drift-summary") === "1 difference now; seen 1 time in all"`)
	p.do("back to the nodes", chromedp.Click(chromedp.CSS(`.crumbs a`)))
	p.waitJS("the drift on edge-1's card, none on edge-2's", fmt.Sprintf(`visibleText(%q) === "Drift: 1 difference" && visibleText(%q) === ""`,
		card1+" .drift", card2+" .drift"))
	p.screenshot("nodes-drift-desktop")
	p.do("open edge-1", chromedp.Click(chromedp.CSS(card1+" h2 a")))
	p.waitJS("edge-1's drift", `visibleText(".notes .drift") === "Drift: 1 difference"`)
	p.do("show the drift", chromedp.Click(chromedp.CSS(`[data-action="drift"]`)))
	p.waitJS("alice missing", `visibleText("dialog[open] .drift-list") === "missing alice-laptop"`)
	p.screenshot("drift-desktop")
	p.do("close it", chromedp.KeyEvent(kb.Escape))
	p.waitJS("the drift to close", `!document.querySelector("dialog[open]")`)
	p.do("reconcile", chromedp.Click(chromedp.CSS(`[data-action="reconcile"]`)))
	p.waitJS("the reconcile's toast", `visibleText(".toast-success:last-child p") === "edge-1 reconciled: 1 added, 0 updated, 0 removed."`)
	if !agentHas(t, a1, alice.PublicKey) {
		t.Fatal("alice is not back on the agent after reconcile now")
	}
	// Repaired: the drift line goes; the history stays, as secondary text.
	p.waitJS("the drift line to go", `visibleText(".notes .drift") === "" &&
		visibleText(".facts-wide .drift-summary") === "none now; seen 1 time in all"`)
	p.do("show the drift again", chromedp.Click(chromedp.CSS(`[data-action="drift"]`)))
	p.waitJS("no drift", `visibleText("dialog[open] .modal-body") === "The agent matches the desired state."`)
	p.do("close it", chromedp.KeyEvent(kb.Escape))
	p.waitJS("the drift to close", `!document.querySelector("dialog[open]")`)
	p.screenshot("node-detail-desktop")

	t.Log("phone width")
	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateMobile))
	p.waitJS("no sideways scrolling on the node page", `document.documentElement.scrollWidth <= window.innerWidth`)
	p.screenshot("node-detail-phone")
	p.do("back to the nodes", chromedp.Click(chromedp.CSS(`.crumbs a`)))
	p.waitJS("the nodes page, edge-1's drift gone", fmt.Sprintf(`location.pathname === "/nodes" && visibleText(%q).includes("edge-1") && visibleText(%q) === ""`,
		card1, card1+" .drift"))
	p.waitJS("no sideways scrolling on the nodes page", `document.documentElement.scrollWidth <= window.innerWidth`)
	p.screenshot("nodes-phone")
	p.do("open the node form", chromedp.Click(chromedp.CSS("#add-node")))
	p.waitJS("the node form", `!!document.querySelector("dialog[open] form") && document.querySelector("dialog[open]").getBoundingClientRect().width <= window.innerWidth`)
	p.screenshot("node-form-phone")
	p.do("close it", chromedp.KeyEvent(kb.Escape))
	p.waitJS("the form to close", `!document.querySelector("dialog[open]")`)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))

	t.Log("move alice from edge-1 to edge-2 with the keyboard; her new config has edge-2's endpoint and an address from its pool")
	p.do("open edge-1", chromedp.Click(chromedp.CSS(card1+" h2 a")))
	p.waitJS("alice's row", fmt.Sprintf(`visibleText(%q).includes("alice-laptop")`, aliceRow))
	p.do("Move… by keyboard", chromedp.Focus(chromedp.CSS(aliceRow+` [data-action="move"]`)), chromedp.KeyEvent(kb.Enter))
	p.waitJS("the move dialog, the target focused", fmt.Sprintf(`document.activeElement.name === "node_id" && !!document.activeElement.closest("dialog[open]") &&
		[...document.activeElement.options].map((o) => o.value).join() === "%d" && document.activeElement.options[0].textContent === "edge-2: online, 1 peer"`, other.ID))
	p.screenshot("move-desktop")
	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateMobile))
	p.waitJS("the move dialog within a phone's width", `document.querySelector("dialog[open]").getBoundingClientRect().width <= window.innerWidth &&
		document.documentElement.scrollWidth <= window.innerWidth`)
	p.screenshot("move-phone")
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.do("move", chromedp.Focus(chromedp.CSS(`dialog[open] button[type="submit"]`)), chromedp.KeyEvent(kb.Enter))
	p.waitJS("the move's result, its download focused", `visibleText("dialog[open] .notice").startsWith("peer moved from edge-1 to edge-2; the client config changed") &&
		document.activeElement.dataset.action === "download-moved"`)
	moved := findPeer(t, fl, other.ID, "alice-laptop")
	if !p.evalBool(fmt.Sprintf(`visibleText("dialog[open] .notice").includes("address %s") && visibleText("dialog[open] .move-facts").includes(%q)`,
		moved.Address4, alice.Address4+" → "+moved.Address4)) {
		t.Errorf("the result does not show alice's new address %s", moved.Address4)
	}
	if moved.ID != alice.ID || !netip.MustParsePrefix("10.98.0.0/24").Contains(netip.MustParseAddr(moved.Address4)) {
		t.Fatalf("alice after the move: id %d, address %s; want id %d and an address of edge-2's pool", moved.ID, moved.Address4, alice.ID)
	}
	p.screenshot("move-result-desktop")
	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateMobile))
	p.waitJS("the result within a phone's width", `document.querySelector("dialog[open]").getBoundingClientRect().width <= window.innerWidth`)
	p.screenshot("move-result-phone")
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	eventually(t, "alice on edge-2's agent with her new address, off edge-1's", func() bool {
		return agentHasIP(t, a2, alice.PublicKey, moved.Address4+"/32") && !agentHas(t, a1, alice.PublicKey)
	})
	movedDir := t.TempDir()
	if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: movedDir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatal(err)
	}
	p.do("download the new config", chromedp.KeyEvent(kb.Enter))
	conf = p.readDownload(movedDir)
	if cc, err = wgconfig.Parse(conf); err != nil {
		t.Fatalf("the new config does not parse: %v\n%s", err, conf)
	}
	if cc.PrivateKey.PublicKey().String() != alice.PublicKey || cc.ServerPublicKey != a2.Tunnel(a2.Iface).PublicKey() ||
		cc.Endpoint != endpointOf(a2) || !slices.Contains(cc.Addresses, netip.MustParsePrefix(moved.Address4+"/32")) {
		t.Fatalf("the new config is not alice's on edge-2:\n%s", conf)
	}
	// Alice left this page; closing the result puts focus on the search.
	p.waitJS("alice's row to leave edge-1's page", fmt.Sprintf(`!document.querySelector(%q) && visibleText("#peer-count") === "0 peers"`, aliceRow))
	p.do("close the result", chromedp.KeyEvent(kb.Escape))
	p.waitJS("focus on the search", `!document.querySelector("dialog[open]") && document.activeElement.id === "peer-search"`)

	t.Log("drain edge-2: the confirmation counts its peers, its agent ends empty")
	p.do("back to the nodes", chromedp.Click(chromedp.CSS(`.crumbs a`)))
	p.do("open edge-2", chromedp.Click(chromedp.CSS(card2+" h2 a")))
	p.waitJS("edge-2's page with 2 peers", fmt.Sprintf(`location.pathname === "/nodes/%d" && visibleText("#peer-count") === "2 peers" &&
		!document.querySelector('[data-action="drain"]').disabled`, other.ID))
	p.do("drain", chromedp.Click(chromedp.CSS(`[data-action="drain"]`)))
	p.waitJS("the drain confirmation", `visibleText("dialog[open] .confirm-message").startsWith("Move all 2 peers of edge-2 to other nodes?") &&
		document.activeElement.textContent === "Cancel"`)
	p.screenshot("drain-confirm-desktop")
	p.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] .btn-primary`)))
	p.waitJS("the drain's result", `visibleText("dialog[open] .notice") === "moved 2 peers off edge-2; 0 remain" &&
		document.querySelectorAll("dialog[open] .moved-list li").length === 2 && visibleText("dialog[open] .moved-list").includes("alice-laptop → edge-1")`)
	p.screenshot("drain-result-desktop")
	eventually(t, "edge-2's agent empty, edge-1's holding both", func() bool {
		d, err := a2.Client(t).Dump(ctx, a2.Iface)
		return err == nil && len(d.Peers) == 0 && agentHas(t, a1, alice.PublicKey)
	})
	p.waitJS("edge-2's page empty, drain off", `visibleText("#peer-count") === "0 peers" && document.querySelector('[data-action="drain"]').disabled`)
	p.do("close the result", chromedp.KeyEvent(kb.Escape))
	p.waitJS("focus on the heading", `!document.querySelector("dialog[open]") && document.activeElement.tagName === "H1"`)
	p.do("back to the nodes", chromedp.Click(chromedp.CSS(`.crumbs a`)))
	p.waitJS("the nodes page", fmt.Sprintf(`location.pathname === "/nodes" && visibleText(%q) === "0 (no limit)"`, card2+" .peer-count"))

	t.Log("disable edge-2")
	p.do("disable", chromedp.Click(chromedp.CSS(card2+` [data-action="toggle"]`)))
	p.waitJS("edge-2 disabled", fmt.Sprintf(`visibleText(%q) === "disabled" && visibleText(%q) === "Enable"`, card2+" .badge", card2+` [data-action="toggle"]`))
	if got, err := fl.GetNode(ctx, other.ID); err != nil || got.Enabled {
		t.Fatalf("edge-2 after disable: enabled %v, %v", got.Enabled, err)
	}
	p.screenshot("nodes-disabled-desktop")

	t.Log("delete edge-1: the confirmation counts its peers and needs consent")
	p.do("delete edge-1", chromedp.Click(chromedp.CSS(card1+` [data-action="delete"]`)))
	p.waitJS("the confirmation", `visibleText("dialog[open] .confirm-message").includes("It has 2 peers.") && document.querySelector("dialog[open] .btn-danger").disabled`)
	p.do("consent and confirm",
		chromedp.Click(chromedp.CSS(`dialog[open] input[type="checkbox"]`)),
		chromedp.Click(chromedp.CSS(`dialog[open] .btn-danger`)))
	p.waitJS("edge-1's card to go", fmt.Sprintf(`!document.querySelector(%q)`, card1))
	if _, err := fl.GetNode(ctx, node.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("edge-1 after delete: %v", err)
	}

	t.Log("a session that ends sends the operator to sign in, then back")
	cookies, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base}})
	if err != nil {
		t.Fatal(err)
	}
	var session string
	for _, ck := range cookies.Cookies {
		if ck.Name == "wgfleet_session" {
			session = ck.Value
			if !ck.HTTPOnly {
				t.Error("the session cookie is readable by scripts")
			}
		}
	}
	if session == "" {
		t.Fatal("no session cookie")
	}
	if err := c.Auth().Logout(ctx, session); err != nil {
		t.Fatal(err)
	}
	p.waitJS("the sign-in page with why", `location.pathname === "/login" && visibleText("#login-message").includes("session has ended")`)
	p.screenshot("session-ended-desktop")
	p.signIn()
	p.waitJS("back on the nodes page", fmt.Sprintf(`location.pathname === "/nodes" && visibleText(%q).includes("edge-2")`, card2))

	t.Log("sign out")
	p.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	p.waitJS("the signed-out page", `visibleText("#login-message") === "You have signed out."`)
	if status := p.evalInt(`fetch("/api/me").then(r => r.status)`); status != http.StatusUnauthorized {
		t.Errorf("GET /api/me after sign-out: %d, want 401", status)
	}

	p.checkProblems()
}

// startController runs a controller (API, UI, poller and reconciler) on
// a loopback port and returns it with its URL.
func startController(t testing.TB) (*controller.Controller, string) {
	t.Helper()
	c := controllertest.Start(t, "")
	return c.Controller, c.URL
}

// agentHasIP reports whether the agent holds the peer with exactly the
// allowed IPs allowed.
func agentHasIP(t *testing.T, a *agenttest.Agent, pub, allowed string) bool {
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		return false
	}
	for _, p := range d.Peers {
		if p.PublicKey == pub {
			return len(p.AllowedIPs) == 1 && p.AllowedIPs[0] == allowed
		}
	}
	return false
}

func agentHas(t *testing.T, a *agenttest.Agent, pub string) bool {
	d, err := a.Client(t).Dump(context.Background(), a.Iface)
	if err != nil {
		return false
	}
	for _, p := range d.Peers {
		if p.PublicKey == pub {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds, for at most stepTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func endpointOf(a *agenttest.Agent) string {
	return fmt.Sprintf("127.0.0.1:%d", a.Tunnel(a.Iface).ListenPort())
}

// addAgentNode adds node name for the real agent a with pool, through the
// fleet service as an operator outside the browser would.
func addAgentNode(t *testing.T, fl *fleet.Service, a *agenttest.Agent, name, pool string) fleet.NodeView {
	t.Helper()
	n, err := fl.CreateNode(context.Background(), fleet.ActorSystem, fleet.NodeInput{
		Name: new(name), AgentURL: new(a.URL), Secret: new(a.Secret), Endpoint: new(endpointOf(a)), IPPool: new(pool),
	})
	if err != nil {
		t.Fatalf("adding node %s: %v", name, err)
	}
	return n
}

func findNode(t *testing.T, fl *fleet.Service, name string) fleet.NodeView {
	t.Helper()
	nodes, err := fl.ListNodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Name == name {
			return n
		}
	}
	t.Fatalf("no node %s", name)
	return fleet.NodeView{}
}

func findPeer(t *testing.T, fl *fleet.Service, nodeID int64, name string) fleet.PeerView {
	t.Helper()
	peers, err := fl.ListPeers(context.Background(), nodeID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range peers {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no peer %s on node %d", name, nodeID)
	return fleet.PeerView{}
}

// readDownload waits for the one finished file in dir and returns it.
func (p *page) readDownload(dir string) []byte {
	t := p.t
	t.Helper()
	var files []string
	deadline := time.Now().Add(stepTimeout)
	for {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		files = files[:0]
		for _, e := range entries {
			if !strings.HasSuffix(e.Name(), ".crdownload") {
				files = append(files, e.Name())
			}
		}
		if len(files) == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(files) != 1 || !strings.HasSuffix(files[0], ".conf") {
		p.fail("downloads: %v, want one .conf file", files)
	}
	b, err := os.ReadFile(filepath.Join(dir, files[0]))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// page is the browser tab of a test, with helpers that fail the test with
// a screenshot of what the page showed.
type page struct {
	t         testing.TB
	ctx       context.Context
	base      string
	artifacts string

	mu       sync.Mutex
	problems []string // script exceptions and CSP violations
	network  []string // failed requests the console logged (the API's 4xx among them)
}

// startBrowser starts headless Chromium with a fresh profile, and records
// the page's exceptions and security errors.
func startBrowser(t testing.TB, exe, base string) *page {
	t.Helper()
	artifacts := t.TempDir()
	if dir := os.Getenv("WGFLEET_ARTIFACTS"); dir != "" {
		artifacts = filepath.Join(dir, "ui-e2e")
		if err := os.MkdirAll(artifacts, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots go to %s", artifacts)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	p := &page{t: t, ctx: ctx, base: base, artifacts: artifacts}

	if _, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument,
		cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: pageHelpers}); err != nil {
		t.Fatal(err)
	}
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	entries := chromedp.Events(ctx, cdplog.EntryAdded)
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg = d.Exception.Description
			}
			p.problem(fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
		}
	}()
	go func() {
		for ev, err := range entries {
			if err != nil {
				return
			}
			e := ev.Entry
			// The network's 4xx are the API at work (400 for the bad
			// CIDR); anything else at error level is not.
			if e.Source == cdplog.EntrySourceNetwork && e.Level == cdplog.EntryLevelError {
				p.mu.Lock()
				p.network = append(p.network, e.Text+" ("+e.URL+")")
				p.mu.Unlock()
			}
			if e.Source == cdplog.EntrySourceSecurity || e.Source == cdplog.EntrySourceViolation ||
				(e.Level == cdplog.EntryLevelError && e.Source != cdplog.EntrySourceNetwork) {
				p.problem(fmt.Sprintf("console %s/%s: %s (%s)", e.Source, e.Level, e.Text, e.URL))
			}
		}
	}()
	return p
}

func (p *page) problem(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.problems = append(p.problems, s)
}

func (p *page) checkProblems() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.problems {
		p.t.Errorf("page: %s", s)
	}
}

// pageHelpers are defined in every document the tab loads: visibleText(sel)
// is the trimmed text of the first element sel matches when it is shown,
// else "".
const pageHelpers = `window.visibleText = (sel) => {
	const el = document.querySelector(sel);
	if (!el || el.closest("[hidden]") || el.getClientRects().length === 0) return "";
	return el.textContent.trim().replace(/\s+/g, " ");
};`

func (p *page) navigate(path string) {
	p.t.Helper()
	p.do("navigate to "+path, chromedp.Navigate(p.base+path))
}

func (p *page) signIn() {
	p.t.Helper()
	// The form is drawn by the page's script after the load: typing into
	// it before it exists fails the step.
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username") && !!document.querySelector("#login-password")`)
	p.do("sign in",
		clearInput("#login-username"),
		clearInput("#login-password"),
		chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
		chromedp.SendKeys(chromedp.CSS("#login-password"), adminPassword),
		chromedp.Click(chromedp.CSS(`.login-form button[type="submit"]`)))
}

// do runs the actions of one step. It first dismisses the messages of
// earlier steps, as an operator would: they sit in a corner of the screen,
// above what a click may aim at.
func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	dismiss := chromedp.Evaluate[chromedp.Void](`document.querySelectorAll(".toast button").forEach((b) => b.click())`)
	if err := chromedp.Do(ctx, append([]chromedp.Action[chromedp.Void]{dismiss}, actions...)...); err != nil {
		p.fail("%s: %v", what, err)
	}
}

// waitJS waits until the JavaScript expression is true.
func (p *page) waitJS(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		p.fail("waiting for %s: %v\n(expression: %s)", what, err, expr)
	}
}

func (p *page) evalBool(expr string) bool     { return eval[bool](p, expr) }
func (p *page) evalString(expr string) string { return eval[string](p, expr) }
func (p *page) evalInt(expr string) int       { return eval[int](p, expr) }

func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.fail("evaluating %s: %v", expr, err)
	}
	return v
}

// screenshot saves the whole page as NAME.png in the artifacts directory.
func (p *page) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	// Let the last layout and image decode settle.
	_, _ = chromedp.Run(ctx, chromedp.Poll[bool](`document.fonts.status === "loaded"`, chromedp.WithPollingTimeout(5*time.Second)))
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(p.artifacts, name+".png"), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// fail saves what the page shows and stops the test.
func (p *page) fail(format string, a ...any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 10*time.Second)
	defer cancel()
	if buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		name := filepath.Join(p.artifacts, "failure.png")
		if os.WriteFile(name, buf, 0o644) == nil {
			p.t.Logf("the page at the failure: %s", name)
		}
	}
	if text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname + "\n" + document.body.innerText`)); err == nil {
		p.t.Logf("page text:\n%s", text)
	}
	p.mu.Lock()
	for _, s := range p.problems {
		p.t.Logf("page problem: %s", s)
	}
	p.mu.Unlock()
	p.t.Fatalf(format, a...)
}

func jsString(s string) string { return fmt.Sprintf("%q", s) }

// clearInput empties an input as a user would, with an input event.
// (chromedp.Clear only resets the value attribute, which a field that was
// typed into no longer follows.)
func clearInput(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(
		`(() => { const el = document.querySelector(%q); el.value = ""; el.dispatchEvent(new Event("input", {bubbles: true})); })()`, sel))
}
