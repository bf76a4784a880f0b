package agent

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/agent/agentapi"
)

// EnrollmentFile is the name, in the state directory, of what a joined
// agent keeps of its enrollment (mode 0600: it holds the API secret).
const EnrollmentFile = "enrollment.json"

// Enrollment is what an agent that joined the fleet by itself keeps: with
// it, later starts need no join token.
type Enrollment struct {
	// Controller is the URL the agent joined.
	Controller string `json:"controller"`
	NodeID     int64  `json:"node_id"`
	Name       string `json:"name"`
	// Secret is the HMAC secret the agent made and handed to the
	// controller; requests signed with it are accepted.
	Secret string `json:"secret"`
	// Address is the interface's address in the node's pool.
	Address  netip.Prefix `json:"address"`
	AgentURL string       `json:"agent_url"`
	Endpoint string       `json:"endpoint"`
	// TLS is whether the agent enrolled serving HTTPS (its certificate
	// fingerprint is pinned on the node).
	TLS        bool      `json:"tls"`
	EnrolledAt time.Time `json:"enrolled_at"`
}

// LoadEnrollment reads the enrollment in stateDir. ok is false, with no
// error, when the agent has not joined. A file readable by group or
// others is refused.
func LoadEnrollment(stateDir string) (e Enrollment, ok bool, err error) {
	path := filepath.Join(stateDir, EnrollmentFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Enrollment{}, false, nil
	}
	if err != nil {
		return Enrollment{}, false, fmt.Errorf("reading enrollment: %w", err)
	}
	if st, err := os.Stat(path); err != nil {
		return Enrollment{}, false, fmt.Errorf("reading enrollment: %w", err)
	} else if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return Enrollment{}, false, fmt.Errorf("enrollment file %s has mode %v; it holds the API secret and must not be readable by group or others (chmod 600)", path, perm)
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return Enrollment{}, false, fmt.Errorf("enrollment file %s is not valid: %w", path, err)
	}
	if err := agentapi.CheckSecret([]byte(e.Secret)); err != nil {
		return Enrollment{}, false, fmt.Errorf("enrollment file %s: secret %w", path, err)
	}
	return e, true, nil
}

// JoinConfig is what Join needs.
type JoinConfig struct {
	// ControllerURL is the controller's base URL, http or https.
	ControllerURL string
	// Token is the join token (agentapi.ParseJoinToken). When it pins a
	// certificate, the controller must present exactly that one.
	Token string
	// CAFile, when set, is a PEM file of the certificate authorities an
	// https controller is verified against instead of the system's.
	CAFile string
	// AdvertiseURL is how the controller reaches this agent's API; ""
	// means the scheme TLS gives, the address this host reaches the
	// controller from (or Listen's host, when it is one address) and
	// Listen's port.
	AdvertiseURL string
	// Endpoint is the host:port clients dial; "" means AdvertiseURL's
	// host and ListenPort.
	Endpoint string
	// Hostname names the node unless the token does; "" means
	// os.Hostname.
	Hostname string
	// StateDir, Iface, ListenPort, Listen and TLS are the agent's own
	// settings (Config): Join makes the interface's key and, for HTTPS,
	// the certificate where the agent will find them.
	StateDir   string
	Iface      string
	ListenPort int
	Listen     string
	TLS        TLSConfig
	// Timeout bounds the enrollment call; 0 means 30 s.
	Timeout time.Duration
}

// JoinError is the controller's refusal of an enrollment: its HTTP status
// and its message.
type JoinError struct {
	Status  int
	Message string
}

func (e *JoinError) Error() string {
	return fmt.Sprintf("the controller refused to enroll this agent (HTTP %d): %s", e.Status, e.Message)
}

// Join enrolls this agent with the controller, once: it makes the
// interface's private key, the API secret and, for HTTPS, the certificate,
// calls the controller's POST agentapi.EnrollPath with the token, and
// saves the answer with the secret as EnrollmentFile (mode 0600). The
// caller then starts the agent with Enrollment.Secret. A refusal is a
// *JoinError with the controller's message; nothing is saved then.
func Join(ctx context.Context, jc JoinConfig) (Enrollment, error) {
	tok, err := agentapi.ParseJoinToken(jc.Token)
	if err != nil {
		return Enrollment{}, err
	}
	ctl, err := url.Parse(strings.TrimRight(jc.ControllerURL, "/"))
	if err != nil || (ctl.Scheme != "http" && ctl.Scheme != "https") || ctl.Host == "" {
		return Enrollment{}, fmt.Errorf("controller URL %q is not an http(s) URL", jc.ControllerURL)
	}
	client, err := joinClient(ctl, tok, jc.CAFile, jc.Timeout)
	if err != nil {
		return Enrollment{}, err
	}
	if err := os.MkdirAll(jc.StateDir, 0o700); err != nil {
		return Enrollment{}, fmt.Errorf("creating state directory: %w", err)
	}
	key, err := loadOrCreateKey(filepath.Join(jc.StateDir, jc.Iface+".key"))
	if err != nil {
		return Enrollment{}, err
	}
	_, fp, err := jc.TLS.serverTLS(jc.StateDir)
	if err != nil {
		return Enrollment{}, err
	}
	advertise, err := advertiseURL(jc, ctl, !fp.IsZero())
	if err != nil {
		return Enrollment{}, err
	}
	endpoint := jc.Endpoint
	if endpoint == "" {
		if jc.ListenPort == 0 {
			return Enrollment{}, errors.New("give --endpoint (host:port clients dial) or a fixed --listen-port")
		}
		u, _ := url.Parse(advertise)
		endpoint = net.JoinHostPort(u.Hostname(), strconv.Itoa(jc.ListenPort))
	}
	name := jc.Hostname
	if name == "" {
		if name, err = os.Hostname(); err != nil {
			return Enrollment{}, fmt.Errorf("reading the host name (give the node a name in the token): %w", err)
		}
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Enrollment{}, fmt.Errorf("making the API secret: %w", err)
	}
	secret := hex.EncodeToString(raw)
	req := agentapi.EnrollRequest{
		Token: tok.String(), Name: name, AgentURL: advertise, Endpoint: endpoint, WGInterface: jc.Iface,
		PublicKey: key.PublicKey().String(), Secret: secret, TLSFingerprint: fp.String(),
	}
	resp, err := postEnroll(ctx, client, ctl.String()+agentapi.EnrollPath, req)
	if err != nil {
		return Enrollment{}, err
	}
	addr, err := netip.ParsePrefix(resp.Address)
	if err != nil {
		return Enrollment{}, fmt.Errorf("the controller's answer: address %q is not a CIDR", resp.Address)
	}
	e := Enrollment{
		Controller: ctl.String(), NodeID: resp.NodeID, Name: resp.Name, Secret: secret, Address: addr,
		AgentURL: advertise, Endpoint: endpoint, TLS: !fp.IsZero(), EnrolledAt: time.Now().UTC(),
	}
	data, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return Enrollment{}, fmt.Errorf("encoding enrollment: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(jc.StateDir, EnrollmentFile), append(data, '\n')); err != nil {
		return Enrollment{}, fmt.Errorf("the controller enrolled node %d, but saving the enrollment failed (delete the node and join again with a new token): %w", resp.NodeID, err)
	}
	return e, nil
}

// joinClient is the HTTP client of the enrollment call: it trusts the
// token's pinned certificate only, or else the CA file's authorities, or
// else the system's.
func joinClient(ctl *url.URL, tok agentapi.JoinToken, caFile string, timeout time.Duration) (*http.Client, error) {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	switch {
	case tok.HasPin() && ctl.Scheme != "https":
		return nil, fmt.Errorf("the join token pins the controller's certificate, but %s is not https", ctl)
	case tok.HasPin():
		tc, err := agentapi.PinnedTLSConfig(tok.Pin)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	case caFile != "":
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("reading --join-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--join-ca %s holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// advertiseURL is jc.AdvertiseURL, or one made of the address this host
// reaches the controller from and the API's port.
func advertiseURL(jc JoinConfig, ctl *url.URL, https bool) (string, error) {
	if jc.AdvertiseURL != "" {
		u, err := url.Parse(jc.AdvertiseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("advertise URL %q is not an http(s) URL", jc.AdvertiseURL)
		}
		if https && u.Scheme != "https" {
			return "", fmt.Errorf("advertise URL %q must be https: the agent serves HTTPS (--tls)", jc.AdvertiseURL)
		}
		return strings.TrimRight(jc.AdvertiseURL, "/"), nil
	}
	host, port, err := net.SplitHostPort(jc.Listen)
	if err != nil || port == "0" {
		return "", fmt.Errorf("give --advertise-url: the API's listen address %q has no fixed port", jc.Listen)
	}
	if a, err := netip.ParseAddr(host); err != nil || a.IsUnspecified() {
		// Any address: advertise the one this host reaches the
		// controller from. A UDP "connection" sends nothing.
		ctlPort := ctl.Port()
		if ctlPort == "" {
			ctlPort = map[string]string{"http": "80", "https": "443"}[ctl.Scheme]
		}
		c, err := net.Dial("udp", net.JoinHostPort(ctl.Hostname(), ctlPort))
		if err != nil {
			return "", fmt.Errorf("give --advertise-url: finding this host's address toward the controller: %w", err)
		}
		host = c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap().String()
		c.Close()
	}
	scheme := "http"
	if https {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// postEnroll sends the enrollment and reads the controller's envelope.
func postEnroll(ctx context.Context, client *http.Client, u string, req agentapi.EnrollRequest) (agentapi.EnrollResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return agentapi.EnrollResponse{}, fmt.Errorf("encoding the enrollment: %w", err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return agentapi.EnrollResponse{}, fmt.Errorf("enrolling: %w", err)
	}
	hr.Header.Set("Content-Type", "application/json")
	res, err := client.Do(hr)
	if err != nil {
		return agentapi.EnrollResponse{}, fmt.Errorf("calling the controller: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return agentapi.EnrollResponse{}, fmt.Errorf("reading the controller's answer: %w", err)
	}
	var env struct {
		Status  bool                    `json:"status"`
		Message *string                 `json:"message"`
		Data    agentapi.EnrollResponse `json:"data"`
	}
	jerr := json.Unmarshal(raw, &env)
	if res.StatusCode != http.StatusCreated && res.StatusCode != http.StatusOK {
		msg := "(no message)"
		if jerr == nil && env.Message != nil {
			msg = *env.Message
		} else if jerr != nil {
			msg = fmt.Sprintf("an answer that is not the controller's (%d bytes; is the URL the controller's?)", len(raw))
		}
		return agentapi.EnrollResponse{}, &JoinError{Status: res.StatusCode, Message: msg}
	}
	if jerr != nil || env.Data.NodeID == 0 {
		return agentapi.EnrollResponse{}, fmt.Errorf("the controller's answer (HTTP %d, %d bytes) is not an enrollment; is the URL the controller's?", res.StatusCode, len(raw))
	}
	return env.Data, nil
}
