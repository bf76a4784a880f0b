package auth

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/wgfleet/wgfleet/controller/store/storetest"
)

func TestApplyAdminPasswordRefusesAndSkips(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	// No admin user yet: nothing to apply.
	if changed, err := ApplyAdminPassword(ctx, st, "a long admin password"); err != nil || changed {
		t.Fatalf("without an admin: ApplyAdminPassword = %v, %v; want false, nil", changed, err)
	}
	if _, err := Bootstrap(ctx, st, "a long admin password", io.Discard); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		password string
		wantErr  error
	}{
		{"empty keeps the stored password", "", nil},
		{"same password", "a long admin password", nil},
		{"weak new password", "short", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			changed, err := ApplyAdminPassword(ctx, st, tt.password)
			if changed || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("ApplyAdminPassword = %v, %v; want false, %v", changed, err, tt.wantErr)
			}
			u, err := st.GetUserByUsername(ctx, AdminUsername)
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := CheckPassword("a long admin password", u.PasswordHash); err != nil || !ok {
				t.Errorf("the stored password changed: %v, %v", ok, err)
			}
		})
	}
}
