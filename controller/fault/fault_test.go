package fault

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestErrorCode(t *testing.T) {
	sentinel := New(ENOTFOUND, "not found")
	cause := errors.New("dial tcp: refused")
	coded := Errorf(EAGENT, "agent unreachable: %w", cause)
	for _, tc := range []struct {
		name string
		err  error
		code Code
		msg  string
	}{
		{"nil", nil, "", ""},
		{"sentinel", sentinel, ENOTFOUND, "not found"},
		{"wrapped sentinel", fmt.Errorf("node %w", sentinel), ENOTFOUND, "node not found"},
		{"errorf", coded, EAGENT, "agent unreachable: dial tcp: refused"},
		{"precedence", fmt.Errorf("%w: %w", New(ECONFLICT, "conflict"), sentinel), ENOTFOUND, "conflict: not found"},
		{"joined", errors.Join(coded, fmt.Errorf("recording: %w", sentinel)), ENOTFOUND, "agent unreachable: dial tcp: refused\nrecording: not found"},
		{"code before context", fmt.Errorf("%w: %w", context.DeadlineExceeded, coded), EAGENT, "context deadline exceeded: agent unreachable: dial tcp: refused"},
		{"canceled before deadline", errors.Join(context.DeadlineExceeded, context.Canceled), ECANCELED, "request canceled"},
		{"context before internal", fmt.Errorf("%w: %w", New(EINTERNAL, "x"), context.Canceled), ECANCELED, "request canceled"},
		{"deadline", fmt.Errorf("asking: %w", context.DeadlineExceeded), ETIMEOUT, "timed out"},
		{"canceled", context.Canceled, ECANCELED, "request canceled"},
		{"plain", errors.New("database is locked at /var/lib/x"), EINTERNAL, "internal error"},
		{"internal code", New(EINTERNAL, "secret detail"), EINTERNAL, "internal error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ErrorCode(tc.err); got != tc.code {
				t.Errorf("ErrorCode = %q, want %q", got, tc.code)
			}
			if got := ErrorMessage(tc.err); got != tc.msg {
				t.Errorf("ErrorMessage = %q, want %q", got, tc.msg)
			}
		})
	}
}

func TestErrorfWraps(t *testing.T) {
	a, b := errors.New("a"), New(ECONFLICT, "b")
	err := Errorf(EINVALID, "x: %w: %w", a, b)
	if !errors.Is(err, a) || !errors.Is(err, b) {
		t.Fatalf("%v does not wrap both operands", err)
	}
	if ErrorCode(err) != EINVALID {
		t.Fatalf("code %q, want the code given to Errorf", ErrorCode(err))
	}
	if err := Errorf(EINVALID, "no operand %d", 1); err.Error() != "no operand 1" {
		t.Fatalf("Errorf without %%w: %v", err)
	}
}

func TestPrecedenceListsEveryCode(t *testing.T) {
	all := []Code{EINVALID, EUNAUTHENTICATED, EFORBIDDEN, ENOTFOUND, EGONE, EMETHOD, ECONFLICT, ETOOLARGE,
		EMEDIATYPE, ERATELIMITED, ECANCELED, EINTERNAL, EAGENT, ETLSPIN, EUNAVAILABLE, ETIMEOUT}
	if len(all) != len(precedence) {
		t.Fatalf("%d codes, %d in precedence", len(all), len(precedence))
	}
	for _, c := range all {
		if rank(c) == len(precedence) {
			t.Errorf("code %q is not in precedence", c)
		}
	}
}

func TestHas(t *testing.T) {
	err := errors.Join(errors.New("x"), fmt.Errorf("y: %w", New(EAGENT, "agent")))
	if !Has(err, EAGENT) || Has(err, ENOTFOUND) || Has(nil, EAGENT) {
		t.Fatal("Has does not see exactly the codes in the tree")
	}
}
