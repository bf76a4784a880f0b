package store

import (
	"context"
	"strings"
	"testing"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// agentVersionMigration is the version that added nodes.agent_version.
const agentVersionMigration = 7

// agentVersionCases are health documents and the agent version read from
// each, by the migration's backfill and by RecordNodeHealth alike.
var agentVersionCases = []struct {
	name, health, want string
}{
	{"a release", `{"status":"ok","version":"1.4.2"}`, "1.4.2"},
	{"a pseudo-version", `{"version":"0.0.0-20261129185820-1aedf8b0c0de"}`, "0.0.0-20261129185820-1aedf8b0c0de"},
	{"cut to 64 characters", `{"version":"` + strings.Repeat("é", 70) + `"}`, strings.Repeat("é", 64)},
	{"no version", `{"status":"ok"}`, ""},
	{"an empty version", `{"version":""}`, ""},
	{"a number", `{"version":1.2}`, ""},
	{"not an object", `["version"]`, ""},
}

// TestMigrationBackfillsAgentVersion: the migration that added
// agent_version fills it from each node's stored health document.
func TestMigrationBackfillsAgentVersion(t *testing.T) {
	ctx := context.Background()
	cases := append(agentVersionCases, struct{ name, health, want string }{"no health document", "", ""})
	docs := make([]healthDoc, len(cases))
	for i, tt := range cases {
		docs[i] = healthDoc{name: tt.name, wgIface: "wg0", health: tt.health}
	}
	s := openWithHealthDocs(t, agentVersionMigration, docs)
	for i, tt := range cases {
		n, err := s.GetNode(ctx, int64(i+1))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if n.AgentVersion != tt.want {
			t.Errorf("%s: agent version %q, want %q", tt.name, n.AgentVersion, tt.want)
		}
	}
}

// TestRecordNodeHealthAgentVersion: each health document recorded sets
// the node's agent version from its "version"; a failed poll without a
// document keeps it.
func TestRecordNodeHealthAgentVersion(t *testing.T) {
	ctx := context.Background()
	s, _, _ := openTest(t)
	n := mustCreateNode(t, s, testNode("n1"))
	for _, tt := range agentVersionCases {
		// Set a version first, so that "" shows the document replaced it.
		if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, []byte(`{"version":"before"}`), wgtypes.Key{}, "", true); err != nil {
			t.Fatal(err)
		}
		if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, []byte(tt.health), wgtypes.Key{}, "", true); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := s.GetNode(ctx, n.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.AgentVersion != tt.want {
			t.Errorf("%s: agent version %q, want %q", tt.name, got.AgentVersion, tt.want)
		}
	}
	if err := s.RecordNodeHealth(ctx, n.ID, NodeOnline, []byte(`{"version":"2.0.0"}`), wgtypes.Key{}, "", true); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordNodeHealth(ctx, n.ID, NodeOffline, nil, wgtypes.Key{}, "unreachable", false); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetNode(ctx, n.ID); err != nil || got.AgentVersion != "2.0.0" {
		t.Errorf("after a failed poll: agent version %q (%v), want 2.0.0 kept", got.AgentVersion, err)
	}
}
