package agenttest

import (
	"net/http"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// Request is what a Fake recorded of one call, whatever became of it.
type Request struct {
	Op          Op
	Method      string
	RequestURI  string // the raw request target
	Body        string
	Nonce       string // X-Nonce; "" when none was sent
	ContentType string
	// SignedTarget is whether X-Signature is the MAC under the Fake's
	// secret over exactly the request target that reached it.
	SignedTarget bool
	// Status is the status it answered; 0 while the call is in flight or
	// when the connection was dropped.
	Status int
}

// record makes the Request of r.
func (f *Fake) record(r *http.Request, op Op, body []byte) Request {
	ts, nonce := r.Header.Get(agentapi.HeaderTimestamp), r.Header.Get(agentapi.HeaderNonce)
	return Request{
		Op: op, Method: r.Method, RequestURI: r.RequestURI, Body: string(body), Nonce: nonce,
		ContentType:  r.Header.Get("Content-Type"),
		SignedTarget: agentapi.Sign([]byte(f.Secret), r.Method, r.RequestURI, body, ts, nonce) == r.Header.Get(agentapi.HeaderSignature),
	}
}

// Requests returns every call since the start (or Reset), in the order
// they arrived.
func (f *Fake) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.log...)
}

// Calls is how many calls of op arrived since the start (or Reset); OpAny
// counts every call.
func (f *Fake) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if op == OpAny {
		return len(f.log)
	}
	return f.calls[op]
}

// MaxInFlight is the most calls it was serving at once since the start
// (or Reset).
func (f *Fake) MaxInFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.maxIn
}

// Reset forgets the calls recorded so far; peers and faults stay.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.log, f.maxIn = nil, f.inflight
	f.gen++
	clear(f.calls)
}
