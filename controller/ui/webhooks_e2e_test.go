package ui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wgfleet/wgfleet/controller/webhook"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

// TestWebhooksPageEndToEnd drives the webhooks page in headless Chromium
// against a running controller: add a webhook to a real HTTP receiver
// (which checks each signature), send a test event and see it delivered
// in the log, add one to a receiver that answers 500 and see the test
// fail with its status, delete it, and look at the phone layout. It fails
// on any script exception or CSP violation.
func TestWebhooksPageEndToEnd(t *testing.T) {
	exe := testenv.RequireCommand(t, "chromium", "chromium")
	_, base := startController(t)
	const secret = "browser test webhook secret"
	var (
		mu     sync.Mutex
		signed int
		events []string
	)
	ok := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if webhook.Verify([]byte(secret), body, r.Header.Get(webhook.SignatureHeader)) {
			signed++
		}
		events = append(events, r.Header.Get(webhook.EventHeader))
	}))
	t.Cleanup(ok.Close)
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)

	p := startBrowser(t, exe, base)
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.navigate("/")
	p.waitJS("the sign-in form", `!!document.querySelector("#login-username")`)
	p.signIn()
	p.waitJS("the nodes page", `location.pathname === "/nodes" && !!document.querySelector("#add-node")`)
	p.do("open the webhooks page", chromedp.Click(chromedp.CSS(`#topnav a[href="/webhooks"]`)))
	p.waitJS("the empty webhooks page", `location.pathname === "/webhooks" && visibleText("#main .empty").includes("No webhooks yet")`)

	add := func(url string) {
		t.Helper()
		p.do("open the webhook form", chromedp.Click(chromedp.CSS("#add-webhook")))
		p.waitJS("the webhook form", `!!document.querySelector('dialog[open] input[name="url"]')`)
		if !p.evalBool(`document.querySelector('dialog[open] input[name="event:node.offline"]').checked && !document.querySelector('dialog[open] input[name="event:peer.created"]').checked`) {
			p.fail("the node events are not ticked by default")
		}
		p.do("fill the webhook form",
			chromedp.SendKeys(chromedp.CSS(`dialog[open] input[name="url"]`), url),
			chromedp.SendKeys(chromedp.CSS(`dialog[open] input[name="secret"]`), secret),
			chromedp.Click(chromedp.CSS(`dialog[open] input[name="event:peer.created"]`)),
			chromedp.Click(chromedp.CSS(`dialog[open] button[type="submit"]`)))
		p.waitJS("the webhook's card", `[...document.querySelectorAll(".webhook-card .webhook-url")].some((e) => e.textContent.startsWith(`+jsString(url)+`))`)
	}

	t.Log("a webhook to a receiver that takes it: the test event is delivered")
	p.do("a too short secret first", chromedp.Click(chromedp.CSS("#add-webhook")))
	p.waitJS("the webhook form", `!!document.querySelector('dialog[open] input[name="url"]')`)
	p.do("fill it with a short secret",
		chromedp.SendKeys(chromedp.CSS(`dialog[open] input[name="url"]`), ok.URL),
		chromedp.SendKeys(chromedp.CSS(`dialog[open] input[name="secret"]`), "short"),
		chromedp.Click(chromedp.CSS(`dialog[open] button[type="submit"]`)))
	p.waitJS("the secret refused beside its field", `visibleText('dialog[open] [data-field="secret"] .field-error').includes("16")`)
	p.do("close the form", chromedp.Click(chromedp.CSS(`dialog[open] [data-action="cancel"]`)))
	add(ok.URL + "/hook")
	card := `.webhook-card:first-child`
	if got := p.evalString(`visibleText(".webhook-card:first-child .webhook-events")`); !strings.Contains(got, "node.offline") || !strings.Contains(got, "peer.created") {
		p.fail("the card's events: %q", got)
	}
	p.do("send a test event", chromedp.Click(chromedp.CSS(card+` [data-action="test"]`)))
	p.waitJS("the test result", `visibleText(".webhook-card:first-child .test-result").includes("delivered")`)
	p.waitJS("the delivery in the log", `visibleText(".webhook-card:first-child table.deliveries").includes("webhook.test") && !!document.querySelector('.webhook-card:first-child tr[data-state="delivered"]')`)
	mu.Lock()
	if signed != 1 || len(events) != 1 || events[0] != "webhook.test" {
		t.Errorf("the receiver got %v, %d signed right; want one signed webhook.test", events, signed)
	}
	mu.Unlock()
	if strings.Contains(p.evalString(`document.body.innerText`), secret) {
		p.fail("the page shows the secret")
	}
	p.screenshot("webhooks-desktop")

	t.Log("a webhook to a receiver that answers 500: the test says so, and it is deleted")
	add(failing.URL)
	failingCard := `.webhook-card:nth-child(2)`
	p.do("send a test event", chromedp.Click(chromedp.CSS(failingCard+` [data-action="test"]`)))
	p.waitJS("the failed test", `visibleText(".webhook-card:nth-child(2) .test-result").includes("500")`)
	p.waitJS("the failed delivery in the log", `!!document.querySelector('.webhook-card:nth-child(2) tr[data-state="failed"]')`)
	p.do("phone viewport", chromedp.EmulateViewport(phoneW, phoneH))
	if p.evalBool(`document.documentElement.scrollWidth > window.innerWidth`) {
		p.fail("the webhooks page scrolls sideways at %d px", phoneW)
	}
	p.screenshot("webhooks-phone")
	p.do("desktop viewport", chromedp.EmulateViewport(desktopW, desktopH))
	p.do("delete it", chromedp.Click(chromedp.CSS(failingCard+` [data-action="delete"]`)))
	p.waitJS("the confirmation", `visibleText("dialog[open] .confirm-message").includes(`+jsString(failing.URL)+`)`)
	p.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] .btn-danger`)))
	p.waitJS("one webhook left", `document.querySelectorAll(".webhook-card").length === 1`)
	p.checkProblems()
}
