package agentapi_test

import (
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

func TestSignVectors(t *testing.T) {
	secret := []byte("test-secret")
	tests := []struct {
		name   string
		method string
		path   string
		body   string
		want   string
	}{
		{
			name:   "GET health",
			method: "GET",
			path:   "/health",
			want:   "1de138a338ced2aaa6ba7eaed07addfe9d54197b55452eff1721ceda361659bc",
		},
		{
			name:   "POST peers",
			method: "POST",
			path:   "/wg/wg0/peers",
			body:   `{"public_key": "abc=", "allowed_ips": ["10.0.1.2/32"], "persistent_keepalive": 25}`,
			want:   "b2206f78f7afcc8f4878844b61440a765a2aef05480b7a5decdc8867e288426e",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			if got := agentapi.Sign(secret, tt.method, tt.path, body, "1234567890", ""); got != tt.want {
				t.Errorf("Sign = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestMessage(t *testing.T) {
	tests := []struct {
		name  string
		nonce string
		want  string
	}{
		{name: "no nonce", want: `PUT|/p?q=1|{"a":1}|42`},
		{name: "nonce", nonce: "abcdefghijklmnop", want: `PUT|/p?q=1|{"a":1}|42|abcdefghijklmnop`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(agentapi.Message("PUT", "/p?q=1", []byte(`{"a":1}`), "42", tt.nonce))
			if got != tt.want {
				t.Errorf("Message = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSignNonceChangesSignature(t *testing.T) {
	s := []byte("k")
	a := agentapi.Sign(s, "GET", "/health", nil, "1", "")
	b := agentapi.Sign(s, "GET", "/health", nil, "1", "abcdefghijklmnop")
	if a == b {
		t.Fatal("nonce does not change the signature")
	}
}

func TestValidNonce(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"abcdefghijklmnop", true},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ_-0123456789abcdefghijklmnopqrstuvwxyz", true}, // 64
		{strings.Repeat("a", 65), false},
		{"abcdefghijklmno", false}, // 15
		{"abcdefghijklmno=", false},
		{"abcdefghijklmno ", false},
		{"abcdefghijklmnoé", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := agentapi.ValidNonce(tt.in); got != tt.want {
			t.Errorf("ValidNonce(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
