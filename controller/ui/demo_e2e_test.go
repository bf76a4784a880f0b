package ui_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/controller/api"
	"github.com/wgfleet/wgfleet/controller/controllertest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestDemoHintsInTheBrowser: on the demo's controller a box above the
// pages says what to try in the UI and lists the CLI commands the
// controller suggests (cmd/wg-controller's TestDemo runs them); it stays
// across pages, hides on request for the session, and an ordinary
// controller shows none.
func TestDemoHintsInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	commands := []string{"wg-controller peer add --node demo-a --name my-phone", "wg-controller peer list --node demo-b"}
	c := controllertest.StartWith(t, controllertest.Options{Demo: &api.Demo{Commands: commands}})

	p := startBrowser(t, exe, c.URL)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	if p.evalBool(`!!document.querySelector("#demo-hints")`) {
		t.Fatal("the demo's hints show before sign-in")
	}
	p.signIn()
	p.waitJS("the hints", `visibleText("#demo-hints").includes("scan its QR code")`)
	if got := p.evalString(`document.querySelector("#demo-hints .demo-commands").textContent`); got != strings.Join(commands, "\n") {
		t.Fatalf("the hints list the commands %q, want %q", got, commands)
	}
	p.screenshot("demo-hints-desktop")
	p.do("open Audit", chromedp.Click(chromedp.CSS(`#topnav a[href="/audit"]`)))
	p.waitJS("the audit page", `location.pathname === "/audit"`)
	if n := p.evalInt(`document.querySelectorAll("#demo-hints").length`); n != 1 {
		t.Fatalf("%d hint boxes on the second page, want 1", n)
	}
	p.do("hide the hints", chromedp.Click(chromedp.CSS("#demo-hints-hide")))
	p.waitJS("the hints hidden", `!document.querySelector("#demo-hints")`)
	p.navigate("/nodes")
	p.waitJS("the nodes page", `!!document.querySelector("#add-node")`)
	if p.evalBool(`!!document.querySelector("#demo-hints")`) {
		t.Fatal("the hidden hints came back after a reload")
	}
	p.checkProblems()

	// An ordinary controller says it is no demo, and its UI shows none.
	plain := controllertest.Start(t, "")
	q := startBrowser(t, exe, plain.URL)
	q.navigate("/")
	q.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	q.signIn()
	q.waitJS("the nodes page", `!!document.querySelector("#add-node")`)
	if !q.evalBool(`fetch("/api/demo").then((r) => r.json()).then((e) => e.data.demo === false)`) {
		t.Error("an ordinary controller says it is a demo")
	}
	if q.evalBool(`!!document.querySelector("#demo-hints")`) {
		t.Error("an ordinary controller's UI shows the demo's hints")
	}
	q.checkProblems()
}
