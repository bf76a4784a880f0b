// Package ui is the controller's web dashboard: plain HTML, CSS and
// JavaScript modules embedded in the binary, served by Handler. It needs
// no build step. The pages talk to the controller only through its JSON
// API (/api/...), with the session cookie and CSRF token the API hands
// out; the API's handler mounts this one at every path outside /api/ and
// adds the security headers (Content-Security-Policy: 'self' only, so the
// assets carry no inline script or style).
package ui
