package ui_test

import (
	"net"
	"net/url"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestReplicaLineInTheBrowser: once signed in, the foot of the page says
// which replica answered and that it leads (the one controller on SQLite,
// named by default after the host and its listen port); signed out, the
// line is gone.
func TestReplicaLineInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	_, base := startController(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	want := "Replica " + net.JoinHostPort(host, u.Port()) + " (leader)"

	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username") && location.pathname === "/login"`)
	if !p.evalBool(`document.querySelector("#replica-line").hidden`) {
		t.Error("the replica line shows before signing in")
	}
	p.signIn()
	p.waitJS("the replica line", `visibleText("#replica-line") === `+jsString(want))
	p.screenshot("replica-line")
	p.do("sign out", chromedp.Click(chromedp.CSS("#signout")))
	p.waitJS("signed out, the line hidden", `location.pathname === "/login" && document.querySelector("#replica-line").hidden`)
	p.checkProblems()
}
