package forward

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func dnsQuery(t *testing.T, id uint16, name string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: id, RecursionDesired: true})
	_ = b.StartQuestions()
	_ = b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// dnsAnswer returns the first A record of resp, "" when there is none or
// the ID is not id.
func dnsAnswer(t *testing.T, resp []byte, id uint16) string {
	t.Helper()
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil || h.ID != id {
		return ""
	}
	_ = p.SkipAllQuestions()
	for {
		a, err := p.Answer()
		if err != nil {
			return ""
		}
		if r, ok := a.Body.(*dnsmessage.AResource); ok {
			return netip.AddrFrom4(r.A).String()
		}
	}
}

// answerFor builds a reply with one A record to query q.
func answerFor(q []byte, addr netip.Addr) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return nil
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true})
	_ = b.StartQuestions()
	_ = b.Question(qs[0])
	_ = b.StartAnswers()
	_ = b.AResource(dnsmessage.ResourceHeader{Name: qs[0].Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: addr.As4()})
	out, _ := b.Finish()
	return out
}

// fakeResolver serves DNS over UDP and TCP on one loopback port, answering
// every A question with addr.
func fakeResolver(t *testing.T, addr netip.Addr) netip.AddrPort {
	t.Helper()
	var ln net.Listener
	var pc net.PacketConn
	for range 20 {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if pc, err = net.ListenPacket("udp", ln.Addr().String()); err == nil {
			break
		}
		ln.Close()
	}
	if pc == nil {
		t.Fatal("no port free for both TCP and UDP")
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			_, _ = pc.WriteTo(answerFor(buf[:n], addr), from)
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				q := readTCPDNS(nil, c)
				if q == nil {
					return
				}
				a := answerFor(q, addr)
				_, _ = c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(a))), a...))
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr).AddrPort()
}

// readTCPDNS reads one length-prefixed DNS message; nil on error (and a
// test failure when t is not nil).
func readTCPDNS(t *testing.T, c io.Reader) []byte {
	var l [2]byte
	if _, err := io.ReadFull(c, l[:]); err != nil {
		if t != nil {
			t.Fatalf("reading DNS length: %v", err)
		}
		return nil
	}
	msg := make([]byte, binary.BigEndian.Uint16(l[:]))
	if _, err := io.ReadFull(c, msg); err != nil {
		if t != nil {
			t.Fatalf("reading DNS message: %v", err)
		}
		return nil
	}
	return msg
}

// deadUDPPort is a loopback UDP port nobody answers on.
func deadUDPPort(t *testing.T) netip.AddrPort {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() }) // bound but never read: queries time out
	return pc.LocalAddr().(*net.UDPAddr).AddrPort()
}
