package fleet

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgfleet/wgfleet/agent/agentapi"
	"github.com/wgfleet/wgfleet/controller/agentclient"
	"github.com/wgfleet/wgfleet/controller/fault"
	"github.com/wgfleet/wgfleet/controller/ipam"
	"github.com/wgfleet/wgfleet/controller/store"
	"github.com/wgfleet/wgfleet/controller/wgconfig"
)

// PeerConfig returns a peer's wg-quick client config and its attachment
// file name, and records the download in the audit log
// ("peer.config_downloaded"), since the config holds the peer's private
// key. It needs:
//   - the peer's private key, stored only when the controller made the key
//     pair; otherwise a *ValidationError for "private_key";
//   - the node's endpoint; otherwise a *ValidationError for "endpoint";
//   - the public key of the node's interface, stored from the node's last
//     health document or else asked of the agent; otherwise an error with
//     fault code EAGENT, wrapping agentclient.ErrUnreachable when the agent
//     gave no answer.
func (s *Service) PeerConfig(ctx context.Context, actor Actor, id int64) (filename string, conf []byte, err error) {
	if err := checkActor(actor); err != nil {
		return "", nil, err
	}
	p, conf, err := s.clientConfig(ctx, id)
	if err != nil {
		return "", nil, err
	}
	if err := s.auditDownload(ctx, actor, p, "conf"); err != nil {
		return "", nil, err
	}
	return wgconfig.FileName(p.Name, p.ID), conf, nil
}

// PeerQR is PeerConfig as a PNG QR code, for phone apps.
func (s *Service) PeerQR(ctx context.Context, actor Actor, id int64) ([]byte, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	p, conf, err := s.clientConfig(ctx, id)
	if err != nil {
		return nil, err
	}
	png, err := wgconfig.QRPNG(conf, 0)
	if err != nil {
		return nil, fmt.Errorf("QR code of peer %d: %w", id, err)
	}
	if err := s.auditDownload(ctx, actor, p, "qr"); err != nil {
		return nil, err
	}
	return png, nil
}

func (s *Service) auditDownload(ctx context.Context, actor Actor, p store.Peer, format string) error {
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		details := peerAudit(p)
		details["format"] = format
		return audit(ctx, tx, actor, "peer.config_downloaded", "peer", p.ID, details)
	})
	if err != nil {
		return fmt.Errorf("recording the config download of peer %d: %w", p.ID, err)
	}
	s.log.Info("peer config downloaded", "peer_id", p.ID, "format", format, "actor", string(actor))
	return nil
}

// clientConfig renders the client config of peer id.
func (s *Service) clientConfig(ctx context.Context, id int64) (store.Peer, []byte, error) {
	var (
		p    store.Peer
		node store.Node
	)
	err := s.store.View(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = tx.GetPeer(ctx, id); err != nil {
			return err
		}
		node, err = tx.GetNode(ctx, p.NodeID)
		return err
	})
	if err != nil {
		return store.Peer{}, nil, fmt.Errorf("client config of peer %d: %w", id, err)
	}
	if p.PrivateKey == nil {
		return store.Peer{}, nil, Invalid("private_key", "this peer's private key is held by its owner; no config can be made")
	}
	if node.Endpoint == "" {
		return store.Peer{}, nil, Invalid("endpoint", "node %s has no endpoint: set its endpoint (host:port clients dial) first", node.Name)
	}
	serverKey, err := s.nodePublicKey(ctx, node)
	if err != nil {
		return store.Peer{}, nil, fmt.Errorf("client config of peer %d: %w", id, err)
	}
	dns := p.DNS
	if dns == "" {
		dns = node.DNS
	}
	c := wgconfig.Client{
		Name:            p.Name,
		PrivateKey:      *p.PrivateKey,
		Addresses:       []netip.Prefix{ipam.HostPrefix(p.Address4)},
		DNS:             splitDNS(dns),
		ServerPublicKey: serverKey,
		PresharedKey:    p.PresharedKey,
		Endpoint:        node.Endpoint,
		AllowedIPs:      p.ClientAllowedIPs,
		Keepalive:       int(p.Keepalive / time.Second),
	}
	if p.Address6.IsValid() {
		c.Addresses = append(c.Addresses, ipam.HostPrefix(p.Address6))
	}
	conf, err := wgconfig.Render(c)
	if err != nil {
		return store.Peer{}, nil, fmt.Errorf("client config of peer %d: %w: %w", id, ErrInvalid, err)
	}
	return p, conf, nil
}

// nodePublicKey finds the public key of the node's interface: the one the
// poller stored from the last health document, or else by asking the agent
// (/health, then GET /v1/wg/{iface}).
func (s *Service) nodePublicKey(ctx context.Context, node store.Node) (wgtypes.Key, error) {
	if node.ServerPublicKey != (wgtypes.Key{}) {
		return node.ServerPublicKey, nil
	}
	// unknown says why the key is not known: err is what the agent said
	// (nil: it answered without the key), reason the same in words.
	unknown := func(err error, reason string) error {
		const format = "the public key of node %s's interface %s is not known (%s); make sure the agent answers (test the node) and try again"
		if err != nil && agentclient.Unreachable(err) {
			return fmt.Errorf("%w: "+format, agentclient.ErrUnreachable, node.Name, node.WGInterface, reason)
		}
		return fault.Errorf(fault.EAGENT, format, node.Name, node.WGInterface, reason)
	}
	c, err := s.agents.For(node)
	if err != nil {
		return wgtypes.Key{}, unknown(err, err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, s.agentTimeout)
	defer cancel()
	h, err := s.agents.Health(ctx, node)
	if err != nil {
		return wgtypes.Key{}, unknown(err, agentclient.Describe(node.AgentURL, err))
	}
	if k, ok := agentapi.InterfaceKey(h.Interfaces, node.WGInterface); ok {
		return k, nil
	}
	info, err := c.Interface(ctx, node.WGInterface)
	if err != nil {
		return wgtypes.Key{}, unknown(err, agentclient.Describe(node.AgentURL, err))
	}
	info.Name = node.WGInterface // the answer is about the interface asked for
	if k, ok := agentapi.InterfaceKey([]agentapi.InterfaceInfo{info}, node.WGInterface); ok {
		return k, nil
	}
	return wgtypes.Key{}, unknown(nil, "the agent does not tell it")
}
