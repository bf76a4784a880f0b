package agentapi_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

func ptr[T any](v T) *T { return &v }

func TestDecodeAddPeer(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want agentapi.AddPeerRequest
		err  bool
	}{
		{
			name: "seed body",
			in:   `{"public_key": "abc=", "allowed_ips": ["10.0.1.2/32"], "persistent_keepalive": 25}`,
			want: agentapi.AddPeerRequest{PublicKey: "abc=", AllowedIPs: []string{"10.0.1.2/32"}, PersistentKeepalive: ptr(25)},
		},
		{
			name: "null preshared key",
			in:   `{"public_key":"k","allowed_ips":[],"preshared_key":null}`,
			want: agentapi.AddPeerRequest{PublicKey: "k", AllowedIPs: []string{}},
		},
		{name: "unknown field", in: `{"public_key":"k","allowed_ips":[],"name":"laptop"}`, err: true},
		{name: "private_key", in: `{"public_key":"k","allowed_ips":[],"private_key":"p"}`, err: true},
		{name: "listen_port", in: `{"public_key":"k","allowed_ips":[],"listen_port":51820}`, err: true},
		{name: "endpoint", in: `{"public_key":"k","allowed_ips":[],"endpoint":"192.0.2.1:51820"}`, err: true},
		{
			name: "preshared key",
			in:   `{"public_key":"k","allowed_ips":["::/0"],"preshared_key":"p"}` + "\n",
			want: agentapi.AddPeerRequest{PublicKey: "k", AllowedIPs: []string{"::/0"}, PresharedKey: ptr("p")},
		},
		{name: "empty object", in: `{}`},
		{name: "empty body", in: ``, err: true},
		{name: "null", in: `null`, err: true},
		{name: "array", in: `[]`, err: true},
		{name: "string", in: `"x"`, err: true},
		{name: "trailing garbage", in: `{"public_key":"k"} x`, err: true},
		{name: "two objects", in: `{}{}`, err: true},
		{name: "truncated", in: `{"public_key":"k"`, err: true},
		{name: "keepalive as string", in: `{"persistent_keepalive":"25"}`, err: true},
		{name: "keepalive as float", in: `{"persistent_keepalive":25.5}`, err: true},
		{name: "keepalive overflow", in: `{"persistent_keepalive":1e40}`, err: true},
		{name: "allowed_ips as string", in: `{"allowed_ips":"10.0.0.1/32"}`, err: true},
		{name: "allowed_ips of numbers", in: `{"allowed_ips":[1]}`, err: true},
		{name: "public_key as number", in: `{"public_key":1}`, err: true},
		{name: "invalid UTF-8", in: "{\"public_key\":\"\xff\"}", err: true},
		{name: "too large", in: `{"public_key":"` + strings.Repeat("a", agentapi.MaxBodyBytes) + `"}`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := agentapi.DecodeAddPeer([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, agentapi.ErrBadRequest) {
					t.Fatalf("DecodeAddPeer = %+v, %v; want ErrBadRequest", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeAddPeer: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodeAddPeer = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeBodyAtLimit(t *testing.T) {
	pad := agentapi.MaxBodyBytes - len(`{"public_key":""}`)
	in := `{"public_key":"` + strings.Repeat("a", pad) + `"}`
	if len(in) != agentapi.MaxBodyBytes {
		t.Fatalf("fixture is %d bytes", len(in))
	}
	if _, err := agentapi.DecodeAddPeer([]byte(in)); err != nil {
		t.Fatalf("body of exactly MaxBodyBytes: %v", err)
	}
}

func TestDecodeUpdatePeer(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want agentapi.UpdatePeerRequest
		err  bool
	}{
		{name: "nothing", in: `{}`},
		{name: "nulls are unchanged", in: `{"allowed_ips":null,"preshared_key":null,"persistent_keepalive":null}`},
		{
			name: "all fields",
			in:   `{"allowed_ips":["10.0.0.2/32"],"preshared_key":"","persistent_keepalive":0}`,
			want: agentapi.UpdatePeerRequest{AllowedIPs: ptr([]string{"10.0.0.2/32"}), PresharedKey: ptr(""), PersistentKeepalive: ptr(0)},
		},
		{name: "empty allowed_ips", in: `{"allowed_ips":[]}`, want: agentapi.UpdatePeerRequest{AllowedIPs: ptr([]string{})}},
		{name: "unknown field", in: `{"enabled":true}`, err: true},
		{name: "public_key", in: `{"public_key":"x"}`, err: true},
		{name: "endpoint", in: `{"endpoint":"192.0.2.1:51820"}`, err: true},
		{name: "wrong type", in: `{"allowed_ips":{}}`, err: true},
		{name: "trailing garbage", in: `{}]`, err: true},
		{name: "null body", in: `null`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := agentapi.DecodeUpdatePeer([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, agentapi.ErrBadRequest) {
					t.Fatalf("DecodeUpdatePeer = %+v, %v; want ErrBadRequest", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeUpdatePeer: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodeUpdatePeer = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeSync(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want agentapi.SyncRequest
		err  bool
	}{
		{name: "remove all", in: `{"peers":[]}`, want: agentapi.SyncRequest{Peers: []agentapi.PeerSpec{}}},
		{
			name: "two peers",
			in:   `{"peers":[{"public_key":"a","allowed_ips":["10.0.0.2/32"]},{"public_key":"b","allowed_ips":[],"persistent_keepalive":25,"preshared_key":"p"}]}`,
			want: agentapi.SyncRequest{Peers: []agentapi.PeerSpec{
				{PublicKey: "a", AllowedIPs: []string{"10.0.0.2/32"}},
				{PublicKey: "b", AllowedIPs: []string{}, PersistentKeepalive: 25, PresharedKey: ptr("p")},
			}},
		},
		{name: "unknown field in a peer", in: `{"peers":[{"public_key":"a","allowed_ips":[],"x":1}]}`, err: true},
		{name: "unknown top-level field", in: `{"peers":[],"dry_run":false}`, err: true},
		{name: "missing peers", in: `{}`, err: true},
		{name: "misspelt peers", in: `{"peer":[]}`, err: true},
		{name: "null peers", in: `{"peers":null}`, err: true},
		{name: "peers object", in: `{"peers":{}}`, err: true},
		{name: "peer of wrong type", in: `{"peers":["a"]}`, err: true},
		{name: "trailing garbage", in: `{"peers":[]},`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := agentapi.DecodeSync([]byte(tt.in))
			if tt.err {
				if !errors.Is(err, agentapi.ErrBadRequest) {
					t.Fatalf("DecodeSync = %+v, %v; want ErrBadRequest", got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeSync: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("DecodeSync = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// fuzzDecode checks that decode never panics, fails only with ErrBadRequest,
// and that what it accepts survives a round trip through encoding/json.
func fuzzDecode[T any](f *testing.F, decode func([]byte) (T, error), seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decode(data)
		if err != nil {
			if !errors.Is(err, agentapi.ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("Marshal(%+v): %v", v, err)
		}
		v2, err := decode(enc)
		if err != nil {
			t.Fatalf("decoding re-encoded %s: %v", enc, err)
		}
		if !reflect.DeepEqual(v, v2) {
			t.Fatalf("round trip changed %+v into %+v", v, v2)
		}
	})
}

func FuzzDecodeAddPeer(f *testing.F) {
	fuzzDecode(f, agentapi.DecodeAddPeer,
		`{"public_key": "abc=", "allowed_ips": ["10.0.1.2/32"], "persistent_keepalive": 25}`,
		`{"public_key":"k","allowed_ips":[],"preshared_key":null,"x":[{}]}`,
		`{"preshared_key":"p"} `, `{}`, `null`, `{"a":1}x`)
}

func FuzzDecodeUpdatePeer(f *testing.F) {
	fuzzDecode(f, agentapi.DecodeUpdatePeer,
		`{"allowed_ips":["10.0.0.2/32"],"preshared_key":"","persistent_keepalive":0}`,
		`{"allowed_ips":null}`, `{}`, `[]`)
}

func FuzzDecodeSync(f *testing.F) {
	fuzzDecode(f, agentapi.DecodeSync,
		`{"peers":[{"public_key":"a","allowed_ips":["10.0.0.2/32"],"persistent_keepalive":25}]}`,
		`{"peers":[]}`, `{"peers":null}`, `{}`)
}

// TestClientBodiesAreAccepted: every body the client sends, with every
// field set, decodes under the agent's strict decoder (which refuses
// unknown fields), and so do the seed controller's bodies of PROTOCOL.md.
func TestClientBodiesAreAccepted(t *testing.T) {
	add, err := json.Marshal(agentapi.AddPeerRequest{PublicKey: "k", AllowedIPs: []string{"10.0.0.2/32"}, PresharedKey: ptr("p"), PersistentKeepalive: ptr(25)})
	if err != nil {
		t.Fatal(err)
	}
	upd, err := json.Marshal(agentapi.UpdatePeerRequest{AllowedIPs: ptr([]string{"10.0.0.2/32"}), PresharedKey: ptr(""), PersistentKeepalive: ptr(0)})
	if err != nil {
		t.Fatal(err)
	}
	sync, err := json.Marshal(agentapi.SyncRequest{Peers: []agentapi.PeerSpec{{PublicKey: "k", AllowedIPs: []string{}, PresharedKey: ptr("p"), PersistentKeepalive: 25}}})
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name   string
		decode func([]byte) error
		body   string
	}{
		{"client POST", func(b []byte) error { _, err := agentapi.DecodeAddPeer(b); return err }, string(add)},
		{"client PUT", func(b []byte) error { _, err := agentapi.DecodeUpdatePeer(b); return err }, string(upd)},
		{"client sync", func(b []byte) error { _, err := agentapi.DecodeSync(b); return err }, string(sync)},
		{"seed POST", func(b []byte) error { _, err := agentapi.DecodeAddPeer(b); return err },
			`{"public_key": "abc=", "allowed_ips": ["10.0.1.2/32"], "preshared_key": null, "persistent_keepalive": 25}`},
		{"seed PUT", func(b []byte) error { _, err := agentapi.DecodeUpdatePeer(b); return err },
			`{"allowed_ips": ["10.0.1.2/32"], "persistent_keepalive": 25, "preshared_key": "p"}`},
	}
	for _, c := range checks {
		if err := c.decode([]byte(c.body)); err != nil {
			t.Errorf("%s %s refused: %v", c.name, c.body, err)
		}
	}
}
