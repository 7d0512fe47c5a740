package wire

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"google.golang.org/grpc/credentials"
)

// Addr is a link address: "unix:/path/to/socket" or "tcp:HOST:PORT".
type Addr struct {
	Net  string // "unix" or "tcp"
	Path string // the socket's path (unix) or HOST:PORT (tcp)
}

// ParseAddr parses a link address.
func ParseAddr(s string) (Addr, error) {
	switch {
	case strings.HasPrefix(s, "unix:"):
		p := strings.TrimPrefix(strings.TrimPrefix(s, "unix:"), "//")
		if p == "" {
			return Addr{}, fmt.Errorf("bad address %q: want unix:/path", s)
		}
		return Addr{Net: "unix", Path: p}, nil
	case strings.HasPrefix(s, "tcp:"):
		hp := strings.TrimPrefix(s, "tcp:")
		if _, _, err := net.SplitHostPort(hp); err != nil {
			return Addr{}, fmt.Errorf("bad address %q: want tcp:HOST:PORT", s)
		}
		return Addr{Net: "tcp", Path: hp}, nil
	}
	return Addr{}, fmt.Errorf("bad address %q: want unix:/path or tcp:HOST:PORT", s)
}

// String returns the address as ParseAddr reads it.
func (a Addr) String() string { return a.Net + ":" + a.Path }

// Target is the address as protoactor PIDs and gRPC dial it: "unix:/path"
// or "HOST:PORT".
func (a Addr) Target() string {
	if a.Net == "unix" {
		return "unix:" + a.Path
	}
	return a.Path
}

// dialTarget dials a PID address as gRPC hands it to a custom dialer
// ("unix:///abs", "unix:rel" or "HOST:PORT") and remembers it, so the
// handshake knows whom it speaks to.
func dialTarget(ctx context.Context, target string) (net.Conn, error) {
	network, addr, key := "tcp", target, target
	if strings.HasPrefix(target, "unix:") {
		network, addr = "unix", strings.TrimPrefix(strings.TrimPrefix(target, "unix:"), "//")
		key = "unix:" + addr
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &targetConn{Conn: c, target: key}, nil
}

// Dialer is the gRPC context dialer of both ends.
func Dialer(ctx context.Context, target string) (net.Conn, error) { return dialTarget(ctx, target) }

type targetConn struct {
	net.Conn
	target string // "unix:/abs/path" or "HOST:PORT"
}

// The token preamble: after TLS (if any) and before gRPC's HTTP/2 preface,
// the dialling end sends magic, a length and the token; the listening end
// answers one byte.
const (
	preambleMagic = "NSL1"
	maxToken      = 1024
	verdictOK     = 'Y'
	verdictNo     = 'N'
	// HandshakeTimeout bounds the TLS handshake and the token exchange.
	HandshakeTimeout = 5 * time.Second
)

// ErrBadToken is returned to a client whose token the stack refused.
var ErrBadToken = errors.New("the stack refused the token")

// Identity is the gRPC AuthInfo of an authenticated link connection: the
// credential its token matched.
type Identity struct {
	credentials.CommonAuthInfo
	ID string
}

// AuthType implements credentials.AuthInfo.
func (*Identity) AuthType() string { return "netspace-token" }

// Creds are the gRPC transport credentials of a link end: as a server it
// runs TLS (when ServerTLS is set) and then checks the token a dialler
// presents; as a client it runs TLS when the target asks for it and then
// presents the target's token.
type Creds struct {
	// ServerTLS, when set, wraps accepted connections in TLS.
	ServerTLS *tls.Config
	// Check maps a presented token to a credential ID; ok false refuses
	// the connection.
	Check func(token string) (id string, ok bool)
	// Refused is told of every refused connection (may be nil).
	Refused func(remote net.Addr, reason string)
	// Dial returns the token to present to target ("unix:/path" or
	// "HOST:PORT") and the TLS configuration to use, nil for none.
	Dial func(target string) (token string, cfg *tls.Config, err error)
}

var _ credentials.TransportCredentials = (*Creds)(nil)

// ClientHandshake implements credentials.TransportCredentials.
func (c *Creds) ClientHandshake(ctx context.Context, _ string, raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	target := ""
	if tc, ok := raw.(*targetConn); ok {
		target = tc.target
	}
	if c.Dial == nil {
		return nil, nil, errors.New("wire: this end does not dial")
	}
	token, cfg, err := c.Dial(target)
	if err != nil {
		return nil, nil, err
	}
	conn, err := ClientHandshake(ctx, raw, token, cfg)
	if err != nil {
		return nil, nil, err
	}
	level := credentials.NoSecurity
	if cfg != nil {
		level = credentials.PrivacyAndIntegrity
	}
	return conn, &Identity{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: level}}, nil
}

// ClientHandshake runs TLS (when cfg is set) and the token exchange on
// conn. A refused token is ErrBadToken.
func ClientHandshake(ctx context.Context, conn net.Conn, token string, cfg *tls.Config) (net.Conn, error) {
	dl := time.Now().Add(HandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(dl) {
		dl = d
	}
	conn.SetDeadline(dl)
	defer conn.SetDeadline(time.Time{})
	if cfg != nil {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("wire: TLS: %w", err)
		}
		conn = tc
	}
	if len(token) > maxToken {
		return nil, errors.New("wire: token too long")
	}
	msg := binary.AppendUvarint([]byte(preambleMagic), uint64(len(token)))
	if _, err := conn.Write(append(msg, token...)); err != nil {
		return nil, fmt.Errorf("wire: sending the token: %w", err)
	}
	var v [1]byte
	if _, err := io.ReadFull(conn, v[:]); err != nil {
		return nil, fmt.Errorf("wire: no answer to the token (refused?): %w", err)
	}
	if v[0] != verdictOK {
		return nil, ErrBadToken
	}
	return conn, nil
}

// ServerHandshake implements credentials.TransportCredentials.
func (c *Creds) ServerHandshake(raw net.Conn) (net.Conn, credentials.AuthInfo, error) {
	refuse := func(reason string) error {
		if c.Refused != nil {
			c.Refused(raw.RemoteAddr(), reason)
		}
		return errors.New("wire: " + reason)
	}
	raw.SetDeadline(time.Now().Add(HandshakeTimeout))
	conn := raw
	level := credentials.NoSecurity
	if c.ServerTLS != nil {
		tc := tls.Server(raw, c.ServerTLS)
		if err := tc.Handshake(); err != nil {
			return nil, nil, refuse("TLS handshake: " + err.Error())
		}
		conn, level = tc, credentials.PrivacyAndIntegrity
	}
	br := bufio.NewReaderSize(conn, 64)
	magic := make([]byte, len(preambleMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != preambleMagic {
		return nil, nil, refuse("no token preamble")
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxToken {
		return nil, nil, refuse("bad token length")
	}
	tok := make([]byte, n)
	if _, err := io.ReadFull(br, tok); err != nil {
		return nil, nil, refuse("short token")
	}
	if br.Buffered() > 0 {
		// gRPC waits for our answer before its preface: nothing may follow.
		return nil, nil, refuse("data after the token")
	}
	id, ok := "", false
	if c.Check != nil {
		id, ok = c.Check(string(tok))
	}
	if !ok {
		err := refuse("wrong token") // counted before the client can hear it
		conn.Write([]byte{verdictNo})
		return nil, nil, err
	}
	if _, err := conn.Write([]byte{verdictOK}); err != nil {
		return nil, nil, refuse("answer: " + err.Error())
	}
	raw.SetDeadline(time.Time{})
	return conn, &Identity{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: level}, ID: id}, nil
}

// Info implements credentials.TransportCredentials.
func (c *Creds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "netspace-token"}
}

// Clone implements credentials.TransportCredentials.
func (c *Creds) Clone() credentials.TransportCredentials { cc := *c; return &cc }

// OverrideServerName implements credentials.TransportCredentials.
func (c *Creds) OverrideServerName(string) error { return nil }

// TokenTable checks tokens against a set of credentials in constant time
// per entry, by their SHA-256 digests.
type TokenTable struct {
	ids    []string
	hashes [][32]byte
}

// Add adds a credential.
func (t *TokenTable) Add(id, token string) {
	t.ids = append(t.ids, id)
	t.hashes = append(t.hashes, sha256.Sum256([]byte(token)))
}

// Len returns the number of credentials.
func (t *TokenTable) Len() int { return len(t.ids) }

// Check returns the credential whose token is token.
func (t *TokenTable) Check(token string) (string, bool) {
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range t.hashes {
		if subtle.ConstantTimeCompare(h[:], t.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 || token == "" {
		return "", false
	}
	return t.ids[found], true
}
