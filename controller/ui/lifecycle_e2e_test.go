package ui_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/ui"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestPeerLifecycleEndToEnd drives headless Chromium against a running
// controller with a real agent: a peer's row shows its expiry and its
// usage against its data limit; real WireGuard traffic drives it over
// the limit and the row says "over limit" with the usage at the limit;
// "Reset usage" brings it back; the peer form sets an expiry in the past
// (the row says "expired") and clears it. It fails on any script
// exception or CSP violation.
func TestPeerLifecycleEndToEnd(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a := agenttest.Start(t, agenttest.Options{})
	c, base := startController(t)
	ctx := context.Background()
	fl := c.Fleet()
	node := addAgentNode(t, fl, a, "edge-l", "10.99.0.0/24")
	key, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 10
	capped, err := fl.CreatePeer(ctx, fleet.ActorSystem, node.ID, fleet.PeerInput{
		Name: new("capped"), PublicKey: new(key.PublicKey().String()), DataLimit: json.RawMessage(fmt.Sprint(limit)),
	})
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(3*24*time.Hour + time.Hour).UTC().Format(time.RFC3339)
	visitor, err := fl.CreatePeer(ctx, fleet.ActorSystem, node.ID, fleet.PeerInput{
		Name: new("visitor"), ExpiresAt: json.RawMessage(`"` + expires + `"`),
	})
	if err != nil {
		t.Fatal(err)
	}

	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate(fmt.Sprintf("/nodes/%d", node.ID))
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	p.signIn()
	cappedRow := fmt.Sprintf(`tr[data-peer-id="%d"]`, capped.ID)
	visitorRow := fmt.Sprintf(`tr[data-peer-id="%d"]`, visitor.ID)
	p.waitJS("capped's usage against its limit", fmt.Sprintf(`visibleText(%q).includes("0 B / 64 KiB")`, cappedRow+" .usage"))
	p.waitJS("visitor's expiry", fmt.Sprintf(`visibleText(%q) === "expires in 3 days"`, visitorRow+" .expiry"))
	if p.evalBool(fmt.Sprintf(`!document.querySelector(%q).hidden`, visitorRow+" .usage")) {
		p.fail("a peer without a limit shows a usage line")
	}

	t.Log("real traffic drives capped over its limit")
	addr := netip.MustParseAddr(capped.Address4)
	waitApplied(t, fl, capped.ID)
	badge := cappedRow + ` td[data-label="Status"] .badge`
	over := fmt.Sprintf(`visibleText(%q) === "over limit"`, badge)
	for i := 0; !p.evalBool(over); i++ {
		if i >= 40 {
			p.fail("40 exchanges of 16 KiB and capped is not over its limit")
		}
		if err := a.Exchange(key, addr, 16<<10, 10*time.Second); err != nil {
			break // cut off: the badge says why
		}
		time.Sleep(time.Second) // a poll counts it
	}
	p.waitJS("capped over its limit", over)
	p.waitJS("the usage at the limit", fmt.Sprintf(`/ \/ 64 KiB$/.test(visibleText(%q)) && document.querySelector(%q).value === 1`,
		cappedRow+" .usage-text", cappedRow+" .usage-meter"))
	p.screenshot("peer-over-limit-desktop")

	t.Log("reset usage on the row")
	p.do("reset the usage", chromedp.Click(chromedp.CSS(cappedRow+` [data-action="reset-usage"]`)))
	p.waitJS("capped back", fmt.Sprintf(`visibleText(%q) !== "over limit" && visibleText(%q) === "0 B / 64 KiB"`,
		badge, cappedRow+" .usage-text"))

	t.Log("the form sets an expiry in the past, then none")
	p.do("edit visitor", chromedp.Click(chromedp.CSS(visitorRow+` [data-action="edit"]`)))
	p.waitJS("the expiry field", `document.querySelector('dialog[open] input[name="expires_at"]').value !== ""`)
	p.do("set a past expiry",
		chromedp.SetValue(chromedp.CSS(`dialog[open] input[name="expires_at"]`), "2026-01-01T00:00"),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type="submit"]`)))
	p.waitJS("the form to close", `!document.querySelector("dialog[open]")`)
	vbadge := visitorRow + ` td[data-label="Status"] .badge`
	p.waitJS("visitor expired", fmt.Sprintf(`visibleText(%q) === "expired" && visibleText(%q).startsWith("expired ")`, vbadge, visitorRow+" .expiry"))
	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH))
	p.screenshot("peer-expired-phone")
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.do("edit visitor again", chromedp.Click(chromedp.CSS(visitorRow+` [data-action="edit"]`)))
	p.waitJS("the form", `!!document.querySelector('dialog[open] input[name="expires_at"]')`)
	p.do("clear the expiry",
		chromedp.SetValue(chromedp.CSS(`dialog[open] input[name="expires_at"]`), ""),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type="submit"]`)))
	p.waitJS("visitor back, without an expiry", fmt.Sprintf(`visibleText(%q) !== "expired" && document.querySelector(%q).hidden`, vbadge, visitorRow+" .expiry"))
	got, err := fl.GetPeer(ctx, visitor.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ExpiresAt != nil || got.Status != "active" {
		t.Fatalf("visitor after clearing the expiry in the form: expires_at %v, status %s", got.ExpiresAt, got.Status)
	}
	p.checkProblems()
}

// waitApplied waits until the peer's node confirmed it.
func waitApplied(t *testing.T, fl *fleet.Service, id int64) {
	t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		v, err := fl.GetPeer(context.Background(), id)
		if err == nil && v.SyncState == "applied" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("peer %d not applied: %+v %v", id, v, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLifecycleFormatting runs js/lifecycle.js's pure helpers in
// Chromium, as the pages load them. now is 2026-01-01T12:00:00Z; ago(s)
// is a time s seconds before.
func TestLifecycleFormatting(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	srv := httptest.NewServer(ui.Handler())
	t.Cleanup(srv.Close)
	p := startBrowser(t, exe, srv.URL)
	p.navigate("/login")
	p.waitJS("the page's module", `!!document.querySelector('script[type="module"]')`)
	tests := []struct{ expr, want string }{
		{`l.peerStatus({status: "expired", enabled: true, latest_handshake: ago(5)}, now)`, "expired"},
		{`l.peerStatus({status: "over_limit", enabled: true}, now)`, "over_limit"},
		{`l.peerStatus({status: "restricted", enabled: false}, now)`, "restricted"},
		{`l.peerStatus({status: "active", enabled: true, latest_handshake: ago(5)}, now)`, "active"},
		{`l.peerStatus({status: "active", enabled: true, latest_handshake: null}, now)`, "never"},
		{`l.peerStatus({enabled: false}, now)`, "restricted"}, // an API from before statuses
		{`l.statusText("over_limit")`, "over limit"},
		{`l.usageText({data_limit_bytes: 5 * 1024 ** 3, usage_bytes: 1.2 * 1024 ** 3})`, "1.2 GiB / 5 GiB"},
		{`l.usageText({data_limit_bytes: null, usage_bytes: 5})`, ""},
		{`l.usageFraction({data_limit_bytes: 100, usage_bytes: 25})`, "0.25"},
		{`l.usageFraction({data_limit_bytes: 100, usage_bytes: 150})`, "1"},
		{`l.usageFraction({data_limit_bytes: null, usage_bytes: 150})`, "0"},
		{`l.expiryText({expires_at: ago(-(3 * 86400 + 3600))}, now)`, "expires in 3 days"},
		{`l.expiryText({expires_at: ago(-86400)}, now)`, "expires in 1 day"},
		{`l.expiryText({expires_at: ago(-5 * 3600)}, now)`, "expires in 5 h"},
		{`l.expiryText({expires_at: ago(-30)}, now)`, "expires in under a minute"},
		{`l.expiryText({expires_at: ago(7200)}, now)`, "expired 2 h ago"},
		{`l.expiryText({expires_at: null}, now)`, ""},
		{`l.gibToBytes(1.5)`, "1610612736"},
		{`l.gibToBytes(undefined)`, "null"},
		{`l.gibToBytes(0)`, "null"},
		{`l.bytesToGib(5 * 1024 ** 3)`, "5"},
		{`l.bytesToGib(null)`, ""},
		{`l.fromLocalInput("")`, "null"},
		{`l.fromLocalInput(l.toLocalInput("2026-03-01T10:20:00Z"))`, "2026-03-01T10:20:00Z"},
		{`l.toLocalInput(null)`, ""},
	}
	checkModuleExprs(t, p, `const l = await import(base + "lifecycle.js");`, tests)
}
