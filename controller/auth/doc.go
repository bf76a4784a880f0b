// Package auth decides who is calling the controller: users with a
// password and a browser session, and API tokens for scripts and
// WGDashboard clients. It hashes passwords (argon2id), creates the first
// administrator, signs users in and out with rate limiting, and checks the
// credentials a request carries. It knows nothing of routes or response
// formats; controller/api maps its errors to statuses.
//
// Secrets are handled so that none is ever stored or logged in clear: the
// store keeps only SHA-256 hashes of session and API tokens and argon2id
// hashes of passwords, and this package never puts a password, token or
// CSRF token into a log line or an error message.
package auth
