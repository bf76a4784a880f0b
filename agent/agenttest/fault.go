package agenttest

import (
	"net/http"
	"time"
)

// Op names one call of the agent API (docs/AGENT_API.md), for faults and
// counters.
type Op string

// The calls a Fake tells apart. OpAny matches every call in Inject;
// OpUnknown is a request that matches no endpoint.
const (
	OpAny        Op = "*"
	OpUnknown    Op = "unknown"
	OpHealth     Op = "GET /health"
	OpDump       Op = "GET /wg/{iface}/dump"
	OpAddPeer    Op = "POST /wg/{iface}/peers"
	OpUpdatePeer Op = "PUT /wg/{iface}/peers/{pubkey}"
	OpDeletePeer Op = "DELETE /wg/{iface}/peers/{pubkey}"
	OpInterface  Op = "GET /v1/wg/{iface}"
	OpPeers      Op = "GET /v1/wg/{iface}/peers"
	OpPeer       Op = "GET /v1/wg/{iface}/peers/{pubkey}"
	OpSync       Op = "PUT /v1/wg/{iface}/peers"
)

// write reports whether op changes state.
func (op Op) write() bool {
	switch op {
	case OpAddPeer, OpUpdatePeer, OpDeletePeer, OpSync:
		return true
	}
	return false
}

// Fault is what a Fake does to a call instead of (or before) serving it
// well. The zero Fault does nothing. Transport faults (Delay, Drop,
// Status) act before the signature is checked, as a proxy or a broken
// network would.
type Fault struct {
	// Delay holds the answer this long, or until the client gives up or
	// the Fake is closed.
	Delay time.Duration
	// Drop closes the connection without an answer. Go's transport
	// retries an idempotent request once when a reused connection is
	// dropped, so a Drop meant to be seen needs Times 0 or above 1.
	Drop bool
	// Status answers with this status instead of serving the call. The
	// body is {"error": Error} (Error "" means the status text), or Body
	// as it is, with no Content-Type, when Raw is set.
	Status int
	Error  string
	Raw    bool
	Body   string
	// Header is added to a Status answer (a Location for a redirect).
	Header http.Header
	// Lie answers a write that passed every check as if it had been
	// applied, and changes nothing: the agent claims success it did not
	// have. Reads are served as usual.
	Lie bool
	// Times is how many matching calls the fault applies to; 0 means
	// every call until Clear.
	Times int
}

// armed is an injected fault and how many calls it has left.
type armed struct {
	Fault
	left int // < 0: unlimited
}

// Inject makes calls of op (OpAny: every call) suffer f, replacing a fault
// injected for op before. A fault for the call's own op is preferred to
// one for OpAny.
func (f *Fake) Inject(op Op, fault Fault) {
	left := fault.Times
	if left == 0 {
		left = -1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults[op] = &armed{fault, left}
}

// Clear removes every injected fault.
func (f *Fake) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.faults)
}

// takeFault returns the fault a call of op suffers, using one of its
// Times; f.mu is held.
func (f *Fake) takeFault(op Op) Fault {
	a := f.faults[op]
	if a == nil {
		a = f.faults[OpAny]
	}
	if a == nil {
		return Fault{}
	}
	if a.left > 0 {
		a.left--
		if a.left == 0 {
			for k, v := range f.faults {
				if v == a {
					delete(f.faults, k)
				}
			}
		}
	}
	return a.Fault
}

// delay waits d, or until the request or the Fake ends.
func (f *Fake) delay(r *http.Request, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	case <-f.quit:
	}
}

// drop closes the connection of the call without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("agenttest: the server cannot drop a connection")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

// answerFault writes the Status answer of fault.
func answerFault(w http.ResponseWriter, fault Fault) {
	for k, vs := range fault.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if fault.Raw {
		w.WriteHeader(fault.Status)
		_, _ = w.Write([]byte(fault.Body))
		return
	}
	msg := fault.Error
	if msg == "" {
		msg = http.StatusText(fault.Status)
	}
	writeError(w, fault.Status, msg)
}
