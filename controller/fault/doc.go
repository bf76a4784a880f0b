// Package fault is the controller's error vocabulary: a small set of codes
// that say what kind of failure an error is, whatever package it comes
// from (after WTF Dial's error.go).
//
// Packages keep their own sentinels for errors.Is (store.ErrNodeNotFound,
// auth.ErrCSRF, ...); each sentinel is made with New and so carries a code.
// ErrorCode finds the code of any error; controller/api turns codes into
// HTTP statuses in one table and nowhere else. The package imports nothing
// of the controller, so every package may use it.
package fault
