// Package wgconfig makes and reads the wg-quick configuration a WireGuard
// client imports: Render writes one from a Client, Parse reads one back
// strictly (it is fuzzed, and tests use it to prove a download is valid),
// QRPNG draws a config as a QR code for phone apps, and FileName names the
// attachment so wg-quick accepts it as an interface name.
//
// A client config carries the client's private key. Nothing here logs, and
// no error quotes a key.
package wgconfig
