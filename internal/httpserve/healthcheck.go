package httpserve

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// HealthzTimeout bounds one CheckHealthz.
const HealthzTimeout = 5 * time.Second

// CheckHealthz asks the server listening on listen (a listen address as
// the programs take it: ":8080", "0.0.0.0:8080", "[::]:10086",
// "127.0.0.1:10086") for GET /healthz over plain HTTP, and returns nil
// when it answers 200. An unspecified host is reached on the loopback
// address of its family. It is what the container image's HEALTHCHECK
// runs, where there is no curl.
func CheckHealthz(ctx context.Context, listen string) error {
	return checkHealthz(ctx, "http", listen, http.DefaultClient)
}

// CheckHealthzTLS is CheckHealthz for a server that serves HTTPS. It does
// not verify the server's certificate: it asks a local process whether it
// is alive, sends nothing secret and trusts nothing it is told.
func CheckHealthzTLS(ctx context.Context, listen string) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // a liveness probe of a local process
	defer tr.CloseIdleConnections()
	return checkHealthz(ctx, "https", listen, &http.Client{Transport: tr})
}

func checkHealthz(ctx context.Context, scheme, listen string, hc *http.Client) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	url := scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, HealthzTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
