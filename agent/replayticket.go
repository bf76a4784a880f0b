package agent

import (
	"sync"
	"sync/atomic"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// replayTicket is the record against replays of one request that changes
// a peer (signedJournaled): it must be on stable storage before anything
// of the request is durable or answered. The committer writes it into the
// peer journal with the request's change, in the same write and fsync
// (peerStore.append), and marks it journaled; a request whose change
// never reaches the journal (refused, failed, or changing nothing) has it
// written to the replay log instead when it is answered (durable).
type replayTicket struct {
	rec    agentapi.ReplayRecord
	record func(...agentapi.ReplayRecord) error // the replay log's, for the fallback

	journaled atomic.Bool
	once      sync.Once
	err       error
}

// durable returns once the record is on stable storage, or with the
// error (an *agentapi.AuthError, ReasonReplayLogFailed) that kept it
// from getting there; the same at every call. A nil ticket has nothing to
// record.
func (t *replayTicket) durable() error {
	if t == nil {
		return nil
	}
	t.once.Do(func() {
		if !t.journaled.Load() {
			t.err = t.record(t.rec)
		}
	})
	return t.err
}

// records are the replay records of ops' tickets, for one journal append.
func records(ops []*op) []agentapi.ReplayRecord {
	var out []agentapi.ReplayRecord
	for _, o := range ops {
		if o.ticket != nil {
			out = append(out, o.ticket.rec)
		}
	}
	return out
}

// journaled marks ops' tickets as written with their changes.
func journaled(ops []*op) {
	for _, o := range ops {
		if o.ticket != nil {
			o.ticket.journaled.Store(true)
		}
	}
}
