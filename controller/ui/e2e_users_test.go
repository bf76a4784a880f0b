package ui_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// hiddenJS is true when the element sel matches is absent or not shown.
func hiddenJS(sel string) string {
	return fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !el || el.getClientRects().length === 0; })()`, sel)
}

// shownJS is true when the element sel matches is shown.
func shownJS(sel string) string {
	return fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && el.getClientRects().length > 0; })()`, sel)
}

func (p *page) signInAs(username, password string) {
	p.t.Helper()
	p.do("sign in as "+username,
		clearInput("#login-username"),
		clearInput("#login-password"),
		chromedp.SendKeys(chromedp.CSS("#login-username"), username),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS(`.login-form button[type="submit"]`)))
}

func (p *page) signOut() {
	p.t.Helper()
	p.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	p.waitJS("the sign-in form", `location.pathname === "/login" && !!document.querySelector("#login-username")`)
}

// TestUsersAndTOTPInTheBrowser: an admin adds a viewer on the Users page;
// the viewer signs in and sees no action a viewer may not take (no
// Users, Webhooks or Audit, no node or peer actions) while the data is
// there; on My account the viewer sets up two-factor with the QR code's
// key and a real code at the controller's clock, gets ten recovery codes
// once, and from then on signs in with a code, asked for after the
// password.
func TestUsersAndTOTPInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a := agenttest.Start(t, agenttest.Options{})
	clock := testenv.NewClock(time.Now().UTC().Truncate(time.Second))
	c := controllertest.StartWith(t, controllertest.Options{Now: clock.Now})
	ctx := context.Background()
	n := addAgentNode(t, c.Fleet(), a, "users-node", "10.53.0.0/24")
	if _, err := c.Fleet().CreatePeer(ctx, fleet.ActorSystem, n.ID, fleet.PeerInput{Name: new("users-peer")}); err != nil {
		t.Fatal(err)
	}
	const vera, veraPassword = "vera", "vera's password 1"

	p := startBrowser(t, exe, c.URL)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	p.signIn()
	p.waitJS("the nodes page", shownJS("#add-node"))

	t.Log("the admin adds a viewer on the Users page")
	p.do("open Users", chromedp.Click(chromedp.CSS(`#topnav a[href="/users"]`)))
	p.waitJS("the users page", `location.pathname === "/users" && !!document.querySelector('#users-table tr[data-username="admin"]')`)
	p.do("add a user", chromedp.Click(chromedp.CSS("#add-user")))
	p.waitJS("the add user form", shownJS(`dialog[open] input[name="username"]`))
	p.do("fill the form",
		chromedp.SendKeys(chromedp.CSS(`dialog[open] input[name="username"]`), vera),
		chromedp.SendKeys(chromedp.CSS(`dialog[open] input[name="password"]`), "short"),
		chromedp.SetValue(chromedp.CSS(`dialog[open] select[name="role"]`), "viewer"),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type="submit"]`)))
	p.waitJS("the weak password refused beside its field", `visibleText('dialog[open] [data-field="password"] .field-error').includes("12")`)
	p.do("a better password",
		clearInput(`dialog[open] input[name="password"]`),
		chromedp.SendKeys(chromedp.CSS(`dialog[open] input[name="password"]`), veraPassword),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type="submit"]`)))
	row := fmt.Sprintf(`#users-table tr[data-username=%q]`, vera)
	p.waitJS("vera listed as a viewer", fmt.Sprintf(`visibleText(%q) === "viewer"`, row+" .user-role"))
	p.screenshot("users-desktop")
	p.do("back to the nodes", chromedp.Click(chromedp.CSS(`#topnav a[href="/nodes"]`)))
	p.waitJS("the nodes page", shownJS("#add-node"))
	p.signOut()

	t.Log("the viewer sees the fleet and no action a viewer may not take")
	p.signInAs(vera, veraPassword)
	card := fmt.Sprintf(`li.node-card[data-node-id="%d"]`, n.ID)
	p.waitJS("the nodes page with the node", shownJS(card))
	for _, sel := range []string{`#topnav a[href="/users"]`, `#topnav a[href="/webhooks"]`, `#topnav a[href="/audit"]`, "#add-node",
		card + ` [data-action="edit"]`, card + ` [data-action="delete"]`, card + ` [data-action="toggle"]`} {
		if !p.evalBool(hiddenJS(sel)) {
			t.Errorf("a viewer sees %s", sel)
		}
	}
	if !p.evalBool(shownJS(`#topnav a[href="/account"]`)) {
		t.Error("a viewer does not see My account")
	}
	p.navigate("/users")
	p.waitJS("the users page says it is an admin's", `visibleText(".page .loading").includes("Only an admin") && !document.querySelector("#users-table tbody tr")`)
	if !p.evalBool(hiddenJS("#add-user")) {
		t.Error("a viewer sees Add user")
	}
	p.navigate(fmt.Sprintf("/nodes/%d", n.ID))
	p.waitJS("the node page with its peer", `visibleText("#peers-table tbody").includes("users-peer")`)
	for _, sel := range []string{`[data-action="add-peer"]`, `[data-action="delete"]`, `[data-action="edit"]`, `[data-action="rotate-secret"]`,
		`tr[data-peer-id] [data-action="config"]`, `tr[data-peer-id] [data-action="delete"]`, `tr[data-peer-id] [data-action="share"]`} {
		if !p.evalBool(hiddenJS(sel)) {
			t.Errorf("a viewer sees %s on the node page", sel)
		}
	}
	if !p.evalBool(shownJS(`[data-action="drift"]`)) {
		t.Error("a viewer does not see Show drift")
	}
	// The API refuses what the page hides.
	if got := p.evalInt(`fetch("/api/users").then((r) => r.status)`); got != 403 {
		t.Errorf("GET /api/users as a viewer: %d, want 403", got)
	}
	p.screenshot("viewer-node")

	t.Log("the viewer sets up two-factor on My account")
	p.do("open My account", chromedp.Click(chromedp.CSS(`#topnav a[href="/account"]`)))
	p.waitJS("the account page", shownJS("#totp-start"))
	p.do("start two-factor", chromedp.Click(chromedp.CSS("#totp-start")))
	p.waitJS("the QR code and key", `(() => { const c = document.querySelector("#totp-qr"); return !!c && c.width > 100 && visibleText("#totp-secret").length >= 32; })()`)
	secret := p.evalString(`visibleText("#totp-secret")`)
	p.screenshot("totp-enrol")
	code := func(at time.Time) string {
		c, err := totp.GenerateCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	p.do("a wrong code", chromedp.SendKeys(chromedp.CSS(`#totp-confirm-form input[name="code"]`), "000000"),
		chromedp.Click(chromedp.CSS(`#totp-confirm-form button[type="submit"]`)))
	p.waitJS("the wrong code refused beside its field", `visibleText('#totp-confirm-form [data-field="code"] .field-error') !== ""`)
	p.do("the code of now", clearInput(`#totp-confirm-form input[name="code"]`),
		chromedp.SendKeys(chromedp.CSS(`#totp-confirm-form input[name="code"]`), code(clock.Now())),
		chromedp.Click(chromedp.CSS(`#totp-confirm-form button[type="submit"]`)))
	p.waitJS("ten recovery codes", `document.querySelectorAll("#recovery-codes li").length === 10`)
	p.do("saved them", chromedp.Click(chromedp.CSS("#recovery-done")))
	p.waitJS("two-factor on, the codes gone", `!document.querySelector("#recovery-codes") && !!document.querySelector("#totp-disable-form")`)
	p.signOut()

	t.Log("signing in now asks for a code after the password")
	p.signInAs(vera, veraPassword)
	p.waitJS("the code field", shownJS("#login-code-field")+` && visibleText("#login-error") !== ""`)
	clock.Advance(30 * time.Second)
	p.do("enter the code", chromedp.SendKeys(chromedp.CSS("#login-code"), code(clock.Now())),
		chromedp.Click(chromedp.CSS(`.login-form button[type="submit"]`)))
	p.waitJS("signed in with the code", `location.pathname !== "/login" && visibleText("#session-user") === "vera"`)
	p.checkProblems()
}
