package agentapi_test

import (
	"strings"
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

func TestCheckSecret(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // "" means accepted
	}{
		{name: "random hex", in: "0123456789abcdef0123456789abcdef"},
		{name: "exactly the minimum", in: "0123456789abcdef"},
		{name: "one byte short", in: "0123456789abcde", wantErr: "is 15 bytes; at least 16 are required"},
		{name: "empty", in: "", wantErr: "is 0 bytes"},
		{name: "placeholder", in: agentapi.PlaceholderSecret, wantErr: "is the placeholder"},
		{name: "placeholder with a newline", in: agentapi.PlaceholderSecret + "\n", wantErr: "is the placeholder"},
		{name: "placeholder with spaces", in: "  " + agentapi.PlaceholderSecret + "\t", wantErr: "is the placeholder"},
		{name: "placeholder in upper case", in: strings.ToUpper(agentapi.PlaceholderSecret)},
		{name: "placeholder inside a longer secret", in: agentapi.PlaceholderSecret + "-x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := agentapi.CheckSecret([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckSecret(%q) = %v, want nil", tt.in, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckSecret(%q) = %v, want an error containing %q", tt.in, err, tt.wantErr)
			}
			if len(tt.in) >= 8 && strings.Contains(err.Error(), strings.TrimSpace(tt.in)) && strings.TrimSpace(tt.in) != agentapi.PlaceholderSecret {
				t.Fatalf("CheckSecret's error %q quotes the secret", err)
			}
		})
	}
}
