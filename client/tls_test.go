package client_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"netspace/actors"
	"netspace/client"
	ds "netspace/dataspace"
	"netspace/relay"
	"netspace/relay/wire"
	"netspace/tcp"
)

// TestTCPLinkWithTLS runs the link over TCP on the loopback: TLS with
// the stack's certificate one way and a pinned ephemeral certificate the
// other, the token on top. A client that does not trust the certificate,
// and a peer that speaks no TLS, are refused.
func TestTCPLinkWithTLS(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM, err := wire.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, certPEM, 0o600)
	os.WriteFile(key, keyPEM, 0o600)
	sys := actors.NewSystem()
	srv, err := relay.Start(sys, relay.Config{
		Listen:      "tcp:127.0.0.1:0",
		Credentials: []relay.Credential{{Name: "all", Token: tokenAll}},
		CertFile:    cert, KeyFile: key,
		Logger: testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); sys.Close(5 * time.Second) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, srv.Addr(), client.Credentials{Token: tokenAll, CAFile: cert})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	got := &events{}
	sys.Spawn("stack-side", func(t *actors.Turn) { t.Assert(&tcp.Listening{Port: 8080}) })
	rec := &tcp.Listening{Port: 8081}
	c.Spawn("remote", func(t *client.Turn) {
		t.Assert(rec)
		t.Observe(ds.RecordPattern(tcp.LabelListening, ds.Lit(ds.Int(8080))), client.Handler{
			Added: func(*client.Turn, []ds.Value) { got.add("8080") },
		})
	})
	waitFor(t, 5*time.Second, "events over TLS", func() bool { return got.has("8080") && sys.Count(rec) == 1 })

	// A certificate the client does not trust.
	other, _, _ := wire.SelfSigned([]string{"127.0.0.1"}, time.Hour)
	otherFile := filepath.Join(dir, "other.pem")
	os.WriteFile(otherFile, other, 0o600)
	if _, err := client.Dial(ctx, srv.Addr(), client.Credentials{Token: tokenAll, CAFile: otherFile}); err == nil ||
		!strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Dial trusting another certificate: %v", err)
	}
	// A peer without TLS gets nothing.
	raw, err := net.Dial("tcp", strings.TrimPrefix(srv.Addr(), "tcp:"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := wire.ClientHandshake(ctx, raw, tokenAll, nil); err == nil {
		t.Fatal("a token without TLS was accepted on a TLS link")
	}
	// And TLS with a wrong token is refused.
	if _, err := client.Dial(ctx, srv.Addr(), client.Credentials{Token: "wrong-token-0123456789", CAFile: cert}); err == nil {
		t.Fatal("a wrong token was accepted over TLS")
	}
	if srv.Counters().RefusedConns < 2 {
		t.Fatalf("refusals not counted: %+v", srv.Counters())
	}
}
