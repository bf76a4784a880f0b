package ui_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/agent/agenttest"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestFrenchInTheBrowser opens the dashboard in a browser whose preferred
// language is French: the sign-in page and the nodes page (a real agent's
// node, online) are in French, the page's language is fr; the switch
// turns it to English, which a reload keeps, and back to French.
func TestFrenchInTheBrowser(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	a := agenttest.Start(t, agenttest.Options{Addresses: []netip.Prefix{netip.MustParsePrefix("10.96.0.1/24")}})
	c, base := startController(t)
	node := addAgentNode(t, c.Fleet(), a, "fr-edge", "10.96.0.0/24")

	p := startBrowser(t, exe, base)
	p.preferLanguages("fr-FR,fr;q=0.9")
	p.navigate("/")
	p.waitJS("the sign-in page in French", `document.documentElement.lang === "fr" && visibleText("h1") === "Connexion à wgfleet" &&
		visibleText('.login-form button[type="submit"]') === "Se connecter" && visibleText('label[for="login-password"]') === "Mot de passe" &&
		document.querySelector("#lang-select").value === "fr" &&
		document.querySelector('label[for="lang-select"]').textContent === "Langue"`)
	p.do("submit nothing", chromedp.Click(chromedp.CSS(`.login-form button[type="submit"]`)))
	p.waitJS("the French hint", `visibleText("#login-error") === "Saisissez votre nom d'utilisateur et votre mot de passe."`)
	p.signIn()
	card := fmt.Sprintf(`li.node-card[data-node-id="%d"]`, node.ID)
	p.waitJS("the nodes page in French", `location.pathname === "/nodes" && visibleText("h1") === "Nœuds" &&
		visibleText("#topnav") === "Nœuds Pairs Webhooks Audit Utilisateurs Mon compte" && visibleText("#signout") === "Se déconnecter" &&
		visibleText("#add-node") === "Ajouter un nœud" && document.title === "Nœuds · wgfleet" &&
		visibleText(`+jsString(card+" .badge")+`) === "en ligne" && visibleText(`+jsString(card+" .peer-count")+`) === "0 (sans limite)" &&
		visibleText("#nodes-summary") === "1 nœud, 1 en ligne, 0 pair"`)
	p.screenshot("nodes-fr-desktop")
	p.checkAccessibility("nodes in French")
	p.do("open fr-edge", chromedp.Click(chromedp.CSS(card+" h2 a")))
	p.waitJS("its page in French", `visibleText("#peer-count") === "0 pair" && visibleText('[data-action="add-peer"]') === "Ajouter un pair"`)
	p.checkAccessibility("node detail in French")
	p.do("back to the nodes", chromedp.Click(chromedp.CSS(`.crumbs a`)))
	p.waitJS("the nodes page", `visibleText("h1") === "Nœuds"`)

	t.Log("the switch: English, kept across a reload")
	p.do("choose English", chooseLanguage("en"))
	p.waitThroughReload("the nodes page in English", `document.documentElement.lang === "en" && location.pathname === "/nodes" &&
		visibleText("h1") === "Nodes" && visibleText(`+jsString(card+" .badge")+`) === "online" && visibleText("#nodes-summary") === "1 node, 1 online, 0 peers"`)
	p.navigate("/nodes")
	p.waitJS("English after a reload", `document.documentElement.lang === "en" && visibleText("h1") === "Nodes" && document.querySelector("#lang-select").value === "en"`)

	p.do("choose French again", chooseLanguage("fr"))
	p.waitThroughReload("French again", `document.documentElement.lang === "fr" && visibleText("h1") === "Nœuds"`)
	p.checkProblems()
}

// preferLanguages makes the tab's browser prefer the languages of an
// Accept-Language value (navigator.languages follows it).
func (p *page) preferLanguages(acceptLanguage string) {
	p.t.Helper()
	ua := p.evalString(`navigator.userAgent`)
	if _, err := chromedp.Call(p.ctx, emulation.SetUserAgentOverride,
		emulation.SetUserAgentOverrideParams{UserAgent: ua, AcceptLanguage: acceptLanguage}); err != nil {
		p.t.Fatal(err)
	}
}

// chooseLanguage picks code in the language switch, as a user would.
func chooseLanguage(code string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const s = document.querySelector("#lang-select");
		s.value = %q;
		s.dispatchEvent(new Event("change", {bubbles: true}));
	})()`, code))
}

// waitThroughReload waits until the JavaScript expression is true, in a
// page that is being reloaded meanwhile (waitJS stops at the navigation).
func (p *page) waitThroughReload(what, expr string) {
	p.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.fail("waiting for %s: %v\n(expression: %s)", what, err, expr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
