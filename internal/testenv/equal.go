package testenv

import (
	"fmt"
	"reflect"
	"testing"
)

// Equal fails t, naming field, when got differs from want, and reports
// whether they were equal. It does not stop the test: a caller checks all
// fields of a value and then, if it must, stops with t.FailNow.
func Equal[T comparable](t testing.TB, field string, got, want T) bool {
	t.Helper()
	if got == want {
		return true
	}
	t.Errorf("%s = %s, want %s", field, show(got), show(want))
	return false
}

// DeepEqual is Equal for values == cannot compare (slices, maps, structs
// holding them), by reflect.DeepEqual.
func DeepEqual(t testing.TB, field string, got, want any) bool {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return true
	}
	t.Errorf("%s = %s, want %s", field, show(got), show(want))
	return false
}

// show formats v for a failure message: strings quoted, the rest as %+v.
func show(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%+v", v)
}
