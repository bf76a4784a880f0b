package store

import "strings"

// A node's last_error holds why its last poll failed in two parts: a
// short sentence for people, then, after a newline, the detail (the error
// chain, for whoever debugs). A text without a newline is all sentence
// (what was written before the detail was kept apart).

// NodeErrorText joins message and detail for last_error; newlines in
// either become "; ", so that only the separator is one.
func NodeErrorText(message, detail string) string {
	flat := strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", "; ")
	message, detail = flat.Replace(message), flat.Replace(detail)
	if detail == "" || detail == message {
		return message
	}
	return message + "\n" + detail
}

// SplitNodeError is NodeErrorText's inverse: the sentence and the detail
// ("" when there is none) of a last_error.
func SplitNodeError(s string) (message, detail string) {
	message, detail, _ = strings.Cut(s, "\n")
	return message, detail
}
