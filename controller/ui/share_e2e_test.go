package ui_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestSharePageEndToEnd drives headless Chromium against a running
// controller with a real agent: an operator makes a one-time share link
// on a peer's row; the link's page, without a login, shows the QR code
// (read back with a real scanner) and downloads the config; opened again
// it says the link is used; the peer's dialog lists it as used, and a
// second link is revoked there. It fails on any script exception or CSP
// violation.
func TestSharePageEndToEnd(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	zbarimg := testenv.RequireCommand(t, "zbarimg", "zbar-tools")
	a := agenttest.Start(t, agenttest.Options{})
	c, base := startController(t)
	ctx := context.Background()
	fl := c.Fleet()
	node := addAgentNode(t, fl, a, "edge-s", "10.99.0.0/24")
	peer, err := fl.CreatePeer(ctx, fleet.ActorSystem, node.ID, fleet.PeerInput{Name: new("phone")})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := c.Store().GetPeer(ctx, peer.ID)
	if err != nil {
		t.Fatal(err)
	}

	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate(fmt.Sprintf("/nodes/%d", node.ID))
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	p.signIn()
	row := fmt.Sprintf(`tr[data-peer-id="%d"]`, peer.ID)
	p.waitJS("phone's row", fmt.Sprintf(`visibleText(%q).includes("phone")`, row))

	t.Log("make a one-time link on the peer's row")
	p.do("open the share dialog", chromedp.Click(chromedp.CSS(row+` [data-action="share"]`)))
	p.waitJS("the share dialog's empty list", `visibleText("dialog[open] .share-list").includes("No share links yet")`)
	if !p.evalBool(`document.querySelector("dialog[open] input[name=one_time]").checked`) {
		p.fail("a new link is not once-only by default")
	}
	p.do("create the link", chromedp.Click(chromedp.CSS(`dialog[open] [data-action="create-share"]`)))
	p.waitJS("the new link", `document.querySelector("dialog[open] .share-created input").value.includes("/share/wgs_")`)
	p.waitJS("the link in the list", `visibleText("dialog[open] .share-links").includes("active")`)
	p.screenshot("share-dialog-desktop")
	url := p.evalString(`document.querySelector("dialog[open] .share-created input").value`)
	if !strings.HasPrefix(url, base+"/share/wgs_") {
		p.fail("share URL %q is not on %s", url, base)
	}
	p.do("close the dialog", chromedp.Click(chromedp.CSS(`dialog[open] .modal-head button`)))

	t.Log("open the link, without a login: QR code and download")
	p.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	p.waitJS("signed out", `!!document.querySelector("#login-username")`)
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatal(err)
	}
	p.navigate(strings.TrimPrefix(url, base))
	p.waitJS("the QR code", `(() => { const c = document.querySelector("canvas#share-qr"); return !!c && c.width > 100; })()`)
	if title := p.evalString(`visibleText("#share-title")`); !strings.Contains(title, "phone") {
		p.fail("share page title %q does not name the peer", title)
	}
	p.screenshot("share-page-desktop")
	png := p.evalString(`document.querySelector("canvas#share-qr").toDataURL("image/png").split(",")[1]`)
	raw, err := base64.StdEncoding.DecodeString(png)
	if err != nil {
		t.Fatal(err)
	}
	qrFile := filepath.Join(t.TempDir(), "qr.png")
	if err := os.WriteFile(qrFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	scanned, err := exec.Command(zbarimg, "--quiet", "--raw", qrFile).Output()
	if err != nil {
		t.Fatalf("zbarimg cannot read the page's QR code: %v", err)
	}
	fromQR, err := wgconfig.Parse(scanned)
	if err != nil || fromQR.PrivateKey != *stored.PrivateKey || fromQR.ServerPublicKey != a.Tunnel(a.Iface).PublicKey() {
		t.Fatalf("the QR code is not phone's config (%v):\n%s", err, scanned)
	}
	p.do("download", chromedp.Click(chromedp.CSS("#share-download")))
	conf := p.readDownload(dir)
	cc, err := wgconfig.Parse(conf)
	if err != nil || cc.PrivateKey != *stored.PrivateKey || cc.Endpoint != endpointOf(a) {
		t.Fatalf("the downloaded config is not phone's (%v):\n%s", err, conf)
	}
	p.waitJS("the saved message", `visibleText("#share-saved").includes(".conf")`)
	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH))
	if p.evalBool(`document.documentElement.scrollWidth > window.innerWidth`) {
		p.fail("the share page scrolls sideways at %d px", phoneW)
	}
	p.screenshot("share-page-phone")
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))

	t.Log("the one-time link is used up")
	p.navigate(strings.TrimPrefix(url, base))
	p.waitJS("the used link's message", `visibleText("#share-error").includes("used")`)
	if p.evalBool(`!!document.querySelector("canvas#share-qr")`) {
		p.fail("a used link still shows a QR code")
	}
	p.screenshot("share-page-used")

	t.Log("the peer's dialog lists it as used; a second link is revoked")
	p.navigate(fmt.Sprintf("/nodes/%d", node.ID))
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	p.signIn()
	p.waitJS("phone's row", fmt.Sprintf(`visibleText(%q).includes("phone")`, row))
	p.do("open the share dialog", chromedp.Click(chromedp.CSS(row+` [data-action="share"]`)))
	p.waitJS("the used link", `visibleText("dialog[open] .share-links").includes("used")`)
	p.do("make a link for several uses",
		chromedp.Click(chromedp.CSS(`dialog[open] input[name=one_time]`)),
		chromedp.Click(chromedp.CSS(`dialog[open] [data-action="create-share"]`)))
	p.waitJS("two links", `document.querySelectorAll("dialog[open] .share-link").length === 2`)
	second := p.evalString(`document.querySelector("dialog[open] .share-created input").value`)
	p.do("revoke it", chromedp.Click(chromedp.CSS(`dialog[open] [data-action="revoke-share"]`)))
	p.waitJS("the revoked link", `document.querySelector("dialog[open] .share-link[data-state=revoked]") !== null`)
	list, err := fl.ListShares(ctx, peer.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].State != "revoked" || list[1].State != "used" {
		t.Fatalf("the peer's links after the dialog: %+v", list)
	}
	p.navigate(strings.TrimPrefix(second, base))
	p.waitJS("the revoked link's message", `visibleText("#share-error").includes("revoked")`)
	p.checkProblems()
}
