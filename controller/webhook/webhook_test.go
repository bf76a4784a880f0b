package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgfleet/wgfleet/controller/events"
	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/controller/secretbox"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

const testSecret = "a webhook secret of some length"

// receiver is a real HTTP endpoint that records what it gets, checking
// each signature with Verify, and answers with the statuses it is given
// in turn (then 200).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	secret []byte

	mu       sync.Mutex
	answers  []int
	got      []received
	arrivals chan struct{}
}

type received struct {
	event, delivery string
	body            []byte
	signed          bool
}

func newReceiver(t *testing.T, secret string, answers ...int) *receiver {
	r := &receiver{t: t, secret: []byte(secret), answers: answers, arrivals: make(chan struct{}, 100)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{
			event: req.Header.Get(EventHeader), delivery: req.Header.Get(DeliveryHeader), body: body,
			signed: Verify(r.secret, body, req.Header.Get(SignatureHeader)) && req.Header.Get("Content-Type") == "application/json",
		})
		status := http.StatusOK
		if len(r.answers) > 0 {
			status, r.answers = r.answers[0], r.answers[1:]
		}
		r.mu.Unlock()
		w.WriteHeader(status)
		r.arrivals <- struct{}{}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

// wait waits for n more requests.
func (r *receiver) wait(n int) {
	r.t.Helper()
	for range n {
		select {
		case <-r.arrivals:
		case <-time.After(20 * time.Second):
			r.t.Fatalf("the receiver got %d requests, want more", len(r.requests()))
		}
	}
}

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(context.Background(), path, box)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// run runs d until the test ends.
func run(t *testing.T, d *Dispatcher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func mustCreate(t *testing.T, d *Dispatcher, url string, evs ...string) View {
	t.Helper()
	v, err := d.Create(context.Background(), "user:admin", Input{URL: &url, Events: evs, Secret: new(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func deliveries(t *testing.T, d *Dispatcher, id int64) []DeliveryView {
	t.Helper()
	list, err := d.Deliveries(context.Background(), id, 0)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestDeliverySignedAndFiltered: an event reaches the webhooks that take
// it, once, signed; one that does not take it gets nothing.
func TestDeliverySignedAndFiltered(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "c.db"))
	d := New(Config{Store: st})
	yes := newReceiver(t, testSecret)
	no := newReceiver(t, testSecret)
	hook := mustCreate(t, d, yes.srv.URL+"/hook", "node.offline", "node.online")
	mustCreate(t, d, no.srv.URL, "peer.created")
	run(t, d)

	at := time.Date(2026, 11, 29, 21, 0, 0, 0, time.UTC)
	d.Publish(context.Background(), events.Event{Type: events.NodeOffline, At: at,
		Node: &events.Node{ID: 3, Name: "edge-1", Status: "offline", PreviousStatus: "online"}, Message: "node edge-1 is offline"})
	yes.wait(1)
	time.Sleep(200 * time.Millisecond) // nothing more may come
	got := yes.requests()
	if len(got) != 1 || len(no.requests()) != 0 {
		t.Fatalf("subscribed receiver got %d, other %d; want 1 and 0", len(got), len(no.requests()))
	}
	if !got[0].signed {
		t.Error("the signature does not verify")
	}
	testenv.Equal(t, "event header", got[0].event, "node.offline")
	var e events.Event
	if err := json.Unmarshal(got[0].body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Type != events.NodeOffline || e.Node == nil || e.Node.Name != "edge-1" || !e.At.Equal(at) {
		t.Errorf("body %s", got[0].body)
	}
	eventually(t, "the delivery logged as delivered", func() bool {
		l := deliveries(t, d, hook.ID)
		return len(l) == 1 && l[0].State == "delivered" && l[0].Attempts == 1 && l[0].LastStatus == 200
	})
	// A signature under another secret, or of another body, does not verify.
	if Verify([]byte("another secret!!"), got[0].body, Sign([]byte(testSecret), got[0].body)) ||
		Verify([]byte(testSecret), append(got[0].body, ' '), Sign([]byte(testSecret), got[0].body)) {
		t.Error("Verify accepts a wrong signature")
	}
}

// TestRetriesThenSuccess: 500, 500, then 200: three attempts of the same
// delivery, logged, with backoff between them.
func TestRetriesThenSuccess(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "c.db"))
	d := New(Config{Store: st, BaseBackoff: 200 * time.Millisecond, MaxAttempts: 5})
	r := newReceiver(t, testSecret, 500, 500)
	hook := mustCreate(t, d, r.srv.URL, "peer.created")
	run(t, d)
	start := time.Now()
	d.Publish(context.Background(), events.Event{Type: events.PeerCreated, At: time.Now()})
	r.wait(2)
	l := deliveries(t, d, hook.ID)
	if len(l) != 1 || l[0].State != "pending" || l[0].LastStatus != 500 || !strings.Contains(l[0].LastError, "500") {
		t.Errorf("after two failures the log says %+v", l)
	}
	r.wait(1)
	eventually(t, "the delivery logged as delivered at the third attempt", func() bool {
		l := deliveries(t, d, hook.ID)
		return len(l) == 1 && l[0].State == "delivered" && l[0].Attempts == 3 && l[0].LastStatus == 200 && l[0].LastError == ""
	})
	// 200 ms after the first failure, 400 ms after the second.
	if took := time.Since(start); took < 600*time.Millisecond {
		t.Errorf("three attempts took %s, want the backoff (>= 600ms)", took)
	}
	got := r.requests()
	for _, g := range got {
		if g.delivery != got[0].delivery || !g.signed {
			t.Errorf("a retry differs: delivery %q (first %q), signed %v", g.delivery, got[0].delivery, g.signed)
		}
	}
}

// TestGivesUp: after MaxAttempts failures the delivery has failed, and
// nothing more is sent.
func TestGivesUp(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "c.db"))
	d := New(Config{Store: st, BaseBackoff: 50 * time.Millisecond, MaxAttempts: 3})
	r := newReceiver(t, testSecret, 500, 503, 502, 500, 500)
	hook := mustCreate(t, d, r.srv.URL, "node.drift")
	run(t, d)
	d.Publish(context.Background(), events.Event{Type: events.NodeDrift, At: time.Now()})
	r.wait(3)
	eventually(t, "the delivery logged as failed", func() bool {
		l := deliveries(t, d, hook.ID)
		return len(l) == 1 && l[0].State == "failed" && l[0].Attempts == 3 && l[0].LastStatus == 502 && l[0].FinishedAt != nil
	})
	time.Sleep(300 * time.Millisecond)
	testenv.Equal(t, "requests", len(r.requests()), 3)
}

// TestQueueSurvivesRestart: an event queued while the receiver is down and
// the controller stops is delivered after a restart on the same database.
func TestQueueSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	r := newReceiver(t, testSecret)
	st := openStore(t, path)
	d := New(Config{Store: st})
	hook := mustCreate(t, d, r.srv.URL, "peer.deleted")
	d.Publish(context.Background(), events.Event{Type: events.PeerDeleted, At: time.Now()}) // no Run: stays queued
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st2 := openStore(t, path)
	d2 := New(Config{Store: st2})
	run(t, d2)
	r.wait(1)
	eventually(t, "the delivery after the restart", func() bool {
		l := deliveries(t, d2, hook.ID)
		return len(l) == 1 && l[0].State == "delivered"
	})
}

// TestTestButton: Test sends a sample event now, once, to a webhook that
// takes no such event, and answers its outcome.
func TestTestButton(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "c.db"))
	d := New(Config{Store: st})
	ok := newReceiver(t, testSecret)
	bad := newReceiver(t, testSecret, 404)
	h1 := mustCreate(t, d, ok.srv.URL, "node.online")
	h2 := mustCreate(t, d, bad.srv.URL, "node.online")
	del, err := d.Test(context.Background(), h1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if del.State != store.DeliveryDelivered || del.LastStatus != 200 || del.Event != string(events.Test) {
		t.Errorf("test delivery %+v", del)
	}
	if got := ok.requests(); len(got) != 1 || !got[0].signed || got[0].event != "webhook.test" {
		t.Errorf("receiver got %+v", got)
	}
	del, err = d.Test(context.Background(), h2.ID)
	if err != nil {
		t.Fatal(err)
	}
	if del.State != store.DeliveryFailed || del.LastStatus != 404 || del.Attempts != 1 {
		t.Errorf("failed test delivery %+v", del)
	}
	if _, err := d.Test(context.Background(), 999); err == nil {
		t.Error("a test of an unknown webhook succeeded")
	}
}

// TestCreateValidation: bad input is refused naming its field; the list
// never shows a secret; delete takes the deliveries along.
func TestCreateValidation(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "c.db"))
	d := New(Config{Store: st})
	good, short := testSecret, "short"
	tests := []struct {
		name  string
		in    Input
		field string
	}{
		{"no url", Input{Events: []string{"node.online"}, Secret: &good}, "url"},
		{"ftp url", Input{URL: new("ftp://x.example"), Events: []string{"node.online"}, Secret: &good}, "url"},
		{"credentials in url", Input{URL: new("https://u:p@x.example"), Events: []string{"node.online"}, Secret: &good}, "url"},
		{"no events", Input{URL: new("https://x.example"), Secret: &good}, "events"},
		{"unknown event", Input{URL: new("https://x.example"), Events: []string{"node.exploded"}, Secret: &good}, "events"},
		{"test is no subscription", Input{URL: new("https://x.example"), Events: []string{"webhook.test"}, Secret: &good}, "events"},
		{"no secret", Input{URL: new("https://x.example"), Events: []string{"node.online"}}, "secret"},
		{"short secret", Input{URL: new("https://x.example"), Events: []string{"node.online"}, Secret: &short}, "secret"},
	}
	for _, tt := range tests {
		_, err := d.Create(context.Background(), "user:admin", tt.in)
		var ve *fleet.ValidationError
		if !errorsAs(err, &ve) || ve.Field != tt.field {
			t.Errorf("%s: %v, want a validation error of %s", tt.name, err, tt.field)
		}
	}
	v := mustCreate(t, d, "https://x.example/h", "node.online", "node.online", "peer.expired")
	testenv.DeepEqual(t, "events, once each", v.Events, []string{"node.online", "peer.expired"})
	raw, _ := json.Marshal(v)
	if strings.Contains(string(raw), testSecret) {
		t.Errorf("the view holds the secret: %s", raw)
	}
	d.Publish(context.Background(), events.Event{Type: events.NodeOnline})
	if err := d.Delete(context.Background(), "user:admin", v.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Deliveries(context.Background(), v.ID, 0); err == nil {
		t.Error("deliveries of a deleted webhook")
	}
}

// TestPublishWritesOnlyForSubscribers: an event no webhook takes is not
// written, so publishing it does not wait for a write transaction in
// progress; one a webhook takes is queued as soon as that transaction
// ends.
func TestPublishWritesOnlyForSubscribers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st := openStore(t, filepath.Join(t.TempDir(), "c.db"))
	d := New(Config{Store: st})
	hook := mustCreate(t, d, newReceiver(t, testSecret).srv.URL, "node.offline")
	offline := events.Event{Type: events.NodeOffline, At: time.Now(), Node: &events.Node{ID: 1, Name: "n1"}}
	created := events.Event{Type: events.PeerCreated, At: time.Now(), Message: "peer created"}

	queuedDuring := -1
	err := st.InTx(ctx, func(*store.Tx) error {
		done := make(chan struct{})
		go func() { d.Publish(ctx, created); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			t.Error("Publish of an event no webhook takes waited for the open write transaction")
		}
		// One a webhook takes waits for it, and is queued after.
		go d.Publish(ctx, offline)
		n := make(chan int, 1)
		go func() { n <- len(deliveries(t, d, hook.ID)) }() // a read: it does not wait
		queuedDuring = <-n
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if queuedDuring != 0 {
		t.Errorf("deliveries during the transaction: %d, want 0", queuedDuring)
	}
	eventually(t, "the subscribed event queued", func() bool { return len(deliveries(t, d, hook.ID)) == 1 })
}
