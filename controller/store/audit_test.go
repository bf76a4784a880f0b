package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestAudit(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)

	var ids []int64
	for i := range 5 {
		e, err := s.AppendAudit(ctx, AuditEntry{
			Actor:      "user:alice",
			Action:     "peer.create",
			TargetType: "peer",
			TargetID:   fmt.Sprint(i % 2),
			Details:    json.RawMessage(fmt.Sprintf(`{"name":"p%d","node":"fra1"}`, i)),
		})
		if err != nil {
			t.Fatal(err)
		}
		if !e.At.Equal(clk.Now()) || e.ID == 0 {
			t.Fatalf("AppendAudit = %+v", e)
		}
		ids = append(ids, e.ID)
		clk.Advance(time.Second)
	}
	e, err := s.AppendAudit(ctx, AuditEntry{Actor: "system", Action: "startup"})
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Details) != "{}" {
		t.Fatalf("nil details stored as %s", e.Details)
	}

	all, err := s.ListAudit(ctx, AuditFilter{})
	if err != nil || len(all) != 6 || all[0].Action != "startup" || all[5].ID != ids[0] {
		t.Fatalf("ListAudit newest first = %+v, %v", all, err)
	}
	if string(all[5].Details) != `{"name":"p0","node":"fra1"}` {
		t.Fatalf("details = %s", all[5].Details)
	}
	target, err := s.ListAudit(ctx, AuditFilter{TargetType: "peer", TargetID: "1"})
	if err != nil || len(target) != 2 {
		t.Fatalf("by target = %+v, %v", target, err)
	}
	page, err := s.ListAudit(ctx, AuditFilter{BeforeID: ids[3], Limit: 2})
	if err != nil || len(page) != 2 || page[0].ID != ids[2] || page[1].ID != ids[1] {
		t.Fatalf("page = %+v, %v", page, err)
	}
}

func TestAuditRefusesSecrets(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	tests := []struct {
		name    string
		details string
		want    error
	}{
		{"private key", `{"private_key":"x"}`, ErrInvalid},
		{"nested secret", `{"node":{"name":"a","secret":"x"}}`, ErrInvalid},
		{"in array", `{"peers":[{"PresharedKey":"x"}]}`, ErrInvalid},
		{"password", `{"Password":"hunter2"}`, ErrInvalid},
		{"not an object", `["a"]`, ErrInvalid},
		{"null", `null`, ErrInvalid},
		{"not json", `{`, ErrInvalid},
		{"fine", `{"public_key":"abc=","token_name":"ci","changed":["dns"]}`, nil},
		// The quick look (no escapes, no secret word in quotes) and the
		// full check must agree.
		{"escaped key", `{"priv\u0061te_key":"x"}`, ErrInvalid},
		{"escaped nested key", `{"a":{"s\u0065cret":1},"b":"\""}`, ErrInvalid},
		{"secret word as a value only", `{"field":"password","kind":"token"}`, nil},
		{"after white space", " \n\t{\"name\":\"p1\",\"enabled\":true}", nil},
		{"key in another case", `{"a":[{"b":{"API_TOKEN":"x"}}]}`, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.AppendAudit(ctx, AuditEntry{Actor: "a", Action: "b", Details: json.RawMessage(tt.details)})
			if !errors.Is(err, tt.want) {
				t.Fatalf("AppendAudit = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := s.AppendAudit(ctx, AuditEntry{Action: "b"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no actor = %v", err)
	}
}

// TestAuditFilterActorAndSince: the actor and since filters select
// exactly, together with the target filter and paging.
func TestAuditFilterActorAndSince(t *testing.T) {
	ctx := context.Background()
	s, clk, _ := openTest(t)
	type row struct {
		actor, target string
	}
	rows := []row{{"user:alice", "1"}, {"token:ci", "1"}, {"user:alice", "2"}, {"system", "1"}, {"user:alice", "1"}}
	var ids []int64
	var ats []time.Time
	for _, r := range rows {
		e, err := s.AppendAudit(ctx, AuditEntry{Actor: r.actor, Action: "peer.update", TargetType: "peer", TargetID: r.target})
		if err != nil {
			t.Fatal(err)
		}
		ids, ats = append(ids, e.ID), append(ats, e.At)
		clk.Advance(time.Minute)
	}
	tests := []struct {
		name string
		f    AuditFilter
		want []int64
	}{
		{"actor", AuditFilter{Actor: "user:alice"}, []int64{ids[4], ids[2], ids[0]}},
		{"actor is exact", AuditFilter{Actor: "user:ali"}, []int64{}},
		{"actor and target", AuditFilter{Actor: "user:alice", TargetType: "peer", TargetID: "1"}, []int64{ids[4], ids[0]}},
		{"since keeps its own second", AuditFilter{Since: ats[3]}, []int64{ids[4], ids[3]}},
		{"since within a second", AuditFilter{Since: ats[3].Add(500 * time.Millisecond)}, []int64{ids[4], ids[3]}},
		{"since after all", AuditFilter{Since: ats[4].Add(time.Second)}, []int64{}},
		{"since and actor", AuditFilter{Since: ats[1], Actor: "user:alice"}, []int64{ids[4], ids[2]}},
		{"actor paged", AuditFilter{Actor: "user:alice", BeforeID: ids[4], Limit: 1}, []int64{ids[2]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ListAudit(ctx, tt.f)
			if err != nil {
				t.Fatal(err)
			}
			gotIDs := []int64{}
			for _, e := range got {
				gotIDs = append(gotIDs, e.ID)
			}
			if fmt.Sprint(gotIDs) != fmt.Sprint(tt.want) {
				t.Fatalf("ListAudit(%+v) ids = %v, want %v", tt.f, gotIDs, tt.want)
			}
		})
	}
}
