package agentapi

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
)

// agentDump is a dump as agents write it (json.Encoder of a Dump), n
// peers of every shape.
func agentDump(t testing.TB, n int) []byte {
	t.Helper()
	ep, hs := "192.0.2.1:51820", int64(1732650000)
	d := Dump{Interface: "wg0", Peers: []Peer{}}
	for i := range n {
		p := Peer{PublicKey: fmt.Sprintf("%043d=", i), AllowedIPs: []string{}, TransferRx: int64(i) << 20, TransferTx: -1, PersistentKeepalive: i % 30}
		if i%2 == 0 {
			p.Endpoint, p.LatestHandshake = &ep, &hs
			p.AllowedIPs = append(p.AllowedIPs, fmt.Sprintf("10.0.%d.%d/32", i/256%256, i%256), "fd00::/64")
		}
		d.Peers = append(d.Peers, p)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return append(b, '\n')
}

// TestDecodeDumpFastPath: what agents write takes the fast path (so the
// fuzz below compares it, not encoding/json with itself) and decodes as
// json.Unmarshal does.
func TestDecodeDumpFastPath(t *testing.T) {
	tests := []struct{ name, in string }{
		{"agent", string(agentDump(t, 5))},
		{"no peers", string(agentDump(t, 0))},
		{"indented", func() string {
			var d Dump
			if err := json.Unmarshal(agentDump(t, 3), &d); err != nil {
				t.Fatal(err)
			}
			b, _ := json.MarshalIndent(d, "", "\t")
			return "\r\n " + string(b) + "\n\n"
		}()},
		{"fields in another order, some missing", `{"peers":[{"transfer_tx":1,"public_key":"k"},{}],"interface":"wg1"}`},
		{"preshared key given", `{"peers":[{"preshared_key":"x","latest_handshake":-0}]}`},
		{"empty", `{}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fast, ok := decodeDumpFast([]byte(tt.in), minSplitBytes)
			if !ok {
				t.Fatalf("decodeDumpFast refused %q", tt.in)
			}
			var want Dump
			if err := json.Unmarshal([]byte(tt.in), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(fast, want) {
				t.Fatalf("decodeDumpFast = %+v\nwant %+v", fast, want)
			}
		})
	}
}

// TestAgentPeer: every peer of a dump as agents write it is read by
// agentPeer (so FuzzDecodeDump compares that path, not peer's, with
// encoding/json), to what json.Unmarshal gives; a peer written otherwise
// is refused by it and read by peer, the same as json.Unmarshal.
func TestAgentPeer(t *testing.T) {
	data := agentDump(t, 40)
	var want Dump
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	s := &dumpScanner{b: data}
	if !s.lit(`{"interface":"wg0","peers":[`) {
		t.Fatalf("unexpected start of %.40q", data)
	}
	for n := range want.Peers {
		var p Peer
		if !s.eat('{') || !s.agentPeer(&p) {
			t.Fatalf("agentPeer refused peer %d: %.80q", n, data[s.i:])
		}
		if !reflect.DeepEqual(p, want.Peers[n]) {
			t.Fatalf("peer %d: agentPeer read %+v, want %+v", n, p, want.Peers[n])
		}
		if !s.eat(',') && n < len(want.Peers)-1 {
			t.Fatalf("no ',' after peer %d", n)
		}
	}
	for _, in := range []string{
		`"preshared_key":null,"public_key":"k","endpoint":null,"allowed_ips":[],"latest_handshake":null,"transfer_rx":0,"transfer_tx":0,"persistent_keepalive":0}`,
		`"public_key":"k","preshared_key":null,"endpoint":null,"allowed_ips":["a" ],"latest_handshake":null,"transfer_rx":0,"transfer_tx":0,"persistent_keepalive":0}`,
		`"public_key":"k","preshared_key":null,"endpoint":null,"allowed_ips":[],"latest_handshake":null,"transfer_rx":0,"transfer_tx":0}`,
		`"public_key":"k","preshared_key":null,"endpoint":null,"allowed_ips":[],"latest_handshake":null,"transfer_rx":0,"transfer_tx":0,"persistent_keepalive":0,"x":1}`,
		`"public_key":"k","preshared_key":null,"endpoint":null,"allowed_ips":["a","b\\"],"latest_handshake":null,"transfer_rx":0,"transfer_tx":0,"persistent_keepalive":0}`,
	} {
		var p Peer
		if (&dumpScanner{b: []byte(in)}).agentPeer(&p) {
			t.Errorf("agentPeer took %q", in)
		}
		doc := []byte(`{"peers":[{` + in + `]}`)
		got, err := DecodeDump(doc)
		var want Dump
		werr := json.Unmarshal(doc, &want)
		if (err == nil) != (werr == nil) || !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeDump(%q) = %+v, %v; json.Unmarshal %+v, %v", doc, got, err, want, werr)
		}
	}
}

// TestDecodeDumpSlowPath: what the fast path does not take still decodes
// (or fails) as json.Unmarshal does.
func TestDecodeDumpSlowPath(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  bool
	}{
		{"unknown field", `{"interface":"wg0","peers":[],"extra":{"a":[1,2]}}`, false},
		{"key in another case", `{"Interface":"wg0"}`, false},
		{"escape", `{"interface":"w\u0067\"0"}`, false},
		{"duplicate key", `{"interface":"a","interface":"b"}`, false},
		{"null peers", `{"peers":null}`, false},
		{"null string", `{"interface":null}`, false},
		{"big number", `{"peers":[{"transfer_rx":9223372036854775807}]}`, false},
		{"overflow", `{"peers":[{"transfer_rx":9223372036854775808}]}`, true},
		{"float", `{"peers":[{"transfer_rx":1.5}]}`, true},
		{"exponent", `{"peers":[{"transfer_rx":1e3}]}`, true},
		{"wrong type", `{"peers":[{"endpoint":5}]}`, true},
		{"top-level null", `null`, false},
		{"not JSON", `{"peers":[`, true},
		{"trailing data", `{} x`, true},
		{"leading zero", `{"peers":[{"transfer_rx":01}]}`, true},
		{"non-ASCII", `{"interface":"wé"}`, false},
		{"invalid UTF-8", "{\"interface\":\"w\xff\"}", false},
		{"control character", "{\"interface\":\"w\x01\"}", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, ok := decodeDumpFast([]byte(tt.in), minSplitBytes); ok {
				t.Fatalf("decodeDumpFast took %q", tt.in)
			}
			got, err := DecodeDump([]byte(tt.in))
			var want Dump
			werr := json.Unmarshal([]byte(tt.in), &want)
			if (err != nil) != tt.wantErr || (werr != nil) != tt.wantErr {
				t.Fatalf("DecodeDump error %v, json.Unmarshal %v; want an error: %v", err, werr, tt.wantErr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("DecodeDump = %+v, json.Unmarshal %+v", got, want)
			}
		})
	}
}

// FuzzDecodeDump holds DecodeDump to encoding/json as the oracle: for any
// input, the error json.Unmarshal into a zero Dump gives, and otherwise
// the same value.
func FuzzDecodeDump(f *testing.F) {
	f.Add(agentDump(f, 3))
	f.Add([]byte(`{"interface":"wg0","peers":[{"public_key":"k","preshared_key":null,"endpoint":null,"allowed_ips":[],"latest_handshake":null,"transfer_rx":0,"transfer_tx":0,"persistent_keepalive":0}]}`))
	f.Add([]byte(`{"peers":[{"latest_handshake":-12,"allowed_ips":["a","b"]},{}] , "interface" : "x" }`))
	f.Add([]byte(`{"peers":[{"transfer_rx":123456789012345678}]}`))
	f.Add([]byte(`{"peers":[{"persistent_keepalive":1e2}]}`))
	f.Add([]byte(`{"interface":"a","interface":"b"}`))
	f.Add([]byte(`{"INTERFACE":"a","peers":[{"Public_Key":"k"}]}`))
	f.Add([]byte(`{"interface":"wg0","peers":[{"public_key":"k","preshared_key":"p","endpoint":"e","allowed_ips":["a","b"],"latest_handshake":-3,"transfer_rx":1,"transfer_tx":2,"persistent_keepalive":3},{"public_key":"k","preshared_key":null,"endpoint":null,"allowed_ips":["a" ],"latest_handshake":null,"transfer_rx":0,"transfer_tx":0,"persistent_keepalive":0,"endpoint":null}]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(` null `))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := DecodeDump(data)
		var want Dump
		werr := json.Unmarshal(data, &want)
		if (err == nil) != (werr == nil) {
			t.Fatalf("DecodeDump error %v, json.Unmarshal error %v", err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeDump = %+v\njson.Unmarshal = %+v", got, want)
		}
		if err != nil && err.Error() != werr.Error() {
			t.Fatalf("DecodeDump error %q, json.Unmarshal %q", err, werr)
		}
		// Split in two halves wherever it can be, the fast path decodes
		// what it decodes in one piece, the same.
		whole, ok := decodeDumpFast(data, math.MaxInt)
		halves, hok := decodeDumpFast(data, 0)
		if ok != hok || !reflect.DeepEqual(whole, halves) {
			t.Fatalf("in halves: %v %+v; in one piece: %v %+v", hok, halves, ok, whole)
		}
	})
}

// TestDecodeDumpInHalves: a large dump is decoded in two halves and gives
// what json.Unmarshal gives; the values own their memory (the input can
// be reused) and each peer's allowed IPs are a slice of their own.
func TestDecodeDumpInHalves(t *testing.T) {
	data := agentDump(t, 3000)
	if len(data) < minSplitBytes || splitPeers(data, 0, minSplitBytes) < 0 {
		t.Fatalf("a dump of %d bytes is not split", len(data))
	}
	var want Dump
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	got, ok := decodeDumpFast(data, minSplitBytes)
	if !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeDumpFast in halves: %v, %d peers; want %d, the same", ok, len(got.Peers), len(want.Peers))
	}
	clear(data)
	if !reflect.DeepEqual(got, want) {
		t.Fatal("the decoded dump changed with its input")
	}
	got.Peers[0].AllowedIPs = append(got.Peers[0].AllowedIPs, "changed")
	*got.Peers[0].Endpoint = "changed"
	*got.Peers[0].LatestHandshake = -1
	got.Peers[0] = want.Peers[0]
	if !reflect.DeepEqual(got, want) {
		t.Fatal("changing a peer's values changed another's")
	}
}

func BenchmarkDecodeDump(b *testing.B) {
	data := agentDump(b, 10000)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := DecodeDump(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var d Dump
			if err := json.Unmarshal(data, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
