package controller_test

import (
	"testing"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

func mustParseKey(t *testing.T, s string) wgtypes.Key {
	t.Helper()
	k, err := wgtypes.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKeyString(t *testing.T) string {
	t.Helper()
	k, err := wgtypes.GeneratePrivateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.PublicKey().String()
}

func addReq(pub, ip string) agentapi.AddPeerRequest {
	return agentapi.AddPeerRequest{PublicKey: pub, AllowedIPs: []string{ip}}
}
