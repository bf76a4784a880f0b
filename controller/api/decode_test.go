package api

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/controller/fleet"
	"github.com/wgfleet/wgfleet/internal/testenv"
)

func TestDecodeNodeInput(t *testing.T) {
	in, err := decodeNodeInput([]byte(` {"name": "edge", "weight": 5, "enabled": false, "dns": null} `))
	if err != nil {
		t.Fatal(err)
	}
	if in.Name == nil || in.Weight == nil || in.Enabled == nil {
		t.Fatalf("name %v, weight %v, enabled %v: want all three set", in.Name, in.Weight, in.Enabled)
	}
	testenv.Equal(t, "name", *in.Name, "edge")
	testenv.Equal(t, "weight", *in.Weight, 5)
	testenv.Equal(t, "enabled", *in.Enabled, false)
	if in.DNS != nil {
		t.Errorf("dns = %v, want unset (null)", *in.DNS)
	}
	if in.AgentURL != nil {
		t.Errorf("agent_url = %q, want unset", *in.AgentURL)
	}
}

func TestDecodePeerInputNodeID(t *testing.T) {
	for _, body := range []string{`{"node_id": 3}`, `{"node_id": "auto"}`} {
		in, err := decodePeerInput([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		want := strings.TrimSuffix(strings.TrimPrefix(body, `{"node_id": `), "}")
		if string(in.NodeID) != want {
			t.Errorf("%s: node_id %s, want %s", body, in.NodeID, want)
		}
	}
}

func TestDecodeStrictRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, body, field, msg string
	}{
		{"empty", "", "", "empty"},
		{"spaces", " \n\t", "", "empty"},
		{"null", "null", "", "JSON object"},
		{"string", `"x"`, "", "JSON object"},
		{"array", `[]`, "", "JSON object"},
		{"truncated", `{"name": "x"`, "", "not valid JSON"},
		{"trailing object", `{} {}`, "", "not valid JSON"},
		{"trailing garbage", `{}x`, "", "not valid JSON"},
		{"bad UTF-8", "{\"name\": \"\xc3\x28\"}", "", "UTF-8"},
		{"unknown", `{"nam": "x"}`, "nam", `unknown field "nam"`},
		{"case", `{"NAME": "x"}`, "NAME", `unknown field "NAME"`},
		{"twice", `{"name": "x", "name": "y"}`, "name", "given twice"},
		{"type string", `{"weight": "5"}`, "weight", `"weight" must be an integer, not string`},
		{"type bool", `{"enabled": 1}`, "enabled", `"enabled" must be true or false, not number`},
		{"type int overflow", `{"weight": 1e100}`, "weight", `"weight" must be an integer`},
		{"type object", `{"name": {}}`, "name", `"name" must be a string, not object`},
		{"long unknown key", `{"` + strings.Repeat("k", 500) + `": 1}`, strings.Repeat("k", 64) + "...", "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeNodeInput([]byte(tc.body))
			var re *requestError
			if !errors.As(err, &re) || !errors.Is(err, errBadRequest) {
				t.Fatalf("err = %v, want a bad request", err)
			}
			if !strings.Contains(re.msg, tc.msg) || re.field != tc.field {
				t.Errorf("message %q field %q; want %q and field %q", re.msg, re.field, tc.msg, tc.field)
			}
		})
	}
}

func TestJSONFields(t *testing.T) {
	got := strings.Join(jsonFields(&fleet.PeerInput{}), ",")
	if got != "node_id,name,public_key,preshared_key,address,client_allowed_ips,dns,persistent_keepalive,node_keepalive,enabled,placement,expires_at,data_limit_bytes,limit_action" {
		t.Errorf("fields %s", got)
	}
}

// fuzzDecode is the property both fuzz targets check: a body is either
// refused as a bad request, or it is one JSON object whose keys are all
// known, each once, and what was decoded encodes and decodes again to the
// same value.
func fuzzDecode[T any](t *testing.T, data []byte, decode func([]byte) (T, error)) {
	v, err := decode(data)
	if err != nil {
		if !errors.Is(err, errBadRequest) {
			t.Fatalf("error %v is not a bad request", err)
		}
		return
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		t.Fatalf("accepted %q, which is not a JSON object: %v", data, err)
	}
	fields := jsonFields(&v)
	for k := range keys {
		found := false
		for _, f := range fields {
			found = found || f == k
		}
		if !found {
			t.Fatalf("accepted unknown key %q", k)
		}
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("re-encoding: %v", err)
	}
	v2, err := decode(again)
	if err != nil {
		t.Fatalf("re-encoded %s refused: %v", again, err)
	}
	if again2, _ := json.Marshal(v2); string(again2) != string(again) {
		t.Fatalf("round trip changed %s to %s", again, again2)
	}
}

func FuzzDecodeNodeInput(f *testing.F) {
	for _, s := range []string{
		`{"name": "edge", "agent_url": "http://10.0.0.1:8080", "secret": "s", "ip_pool_cidr": "10.8.0.0/24"}`,
		`{"weight": 1, "max_peers": 0, "enabled": true, "ip_pool6_cidr": null}`,
		`{"name": "a", "name": "b"}`, `{"Name": 1}`, `[]`, ``, `{`, "{\"name\": \"\xff\"}", `{} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, decodeNodeInput) })
}

func FuzzDecodePeerInput(f *testing.F) {
	for _, s := range []string{
		`{"node_id": "auto", "name": "laptop", "preshared_key": "auto", "client_allowed_ips": ["0.0.0.0/0"]}`,
		`{"node_id": 3, "public_key": "6HSt2LoVl4IZI8vh5nlFAnQdoC5edvsRqoG2uY5rqzs=", "persistent_keepalive": 25}`,
		`{"node_id": {"x": [1, 2]}}`, `{"client_allowed_ips": "x"}`, `{"enabled": null}`,
		`{"expires_at": "2026-12-31T23:59:59Z", "data_limit_bytes": 65536, "limit_action": "delete"}`,
		`{"expires_at": null, "data_limit_bytes": null}`, `{"expires_at": 5, "data_limit_bytes": [1, 2]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzDecode(t, data, decodePeerInput) })
}
