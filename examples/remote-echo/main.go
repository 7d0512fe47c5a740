// Command remote-echo serves TCP echo (RFC 862) on a netspace stack from
// another process, with no privileges: it joins the stack's dataspace
// over the actor link and speaks the tcp records, as an actor inside the
// stack would.
//
//	netspace run --tap tap0 --addr 192.0.2.2/24 \
//	    --listen-actors unix:/run/netspace.sock --actors-token /etc/netspace/token
//	remote-echo --stack unix:/run/netspace.sock --token-file /etc/netspace/token --port 7000
//
// It prints "serving echo on port N" once the stack accepts connections
// there, and exits when the link goes (status 1) or on SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"netspace/client"
	ds "netspace/dataspace"
	"netspace/tcp"
)

func main() {
	stack := flag.String("stack", "unix:/run/netspace.sock", "the stack's actor link: unix:/PATH or tcp:HOST:PORT")
	tokenFile := flag.String("token-file", "", "file holding this program's token")
	ca := flag.String("ca", "", "the stack's certificate (PEM), for a tcp: link")
	port := flag.Uint("port", 7000, "port to serve echo on")
	flag.Parse()
	if err := run(*stack, *tokenFile, *ca, uint16(*port)); err != nil {
		fmt.Fprintln(os.Stderr, "remote-echo:", err)
		os.Exit(1)
	}
}

func run(stack, tokenFile, ca string, port uint16) error {
	if tokenFile == "" || port == 0 {
		return fmt.Errorf("need --token-file and a --port")
	}
	tok, err := client.TokenFile(tokenFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, stack, client.Credentials{Token: tok, CAFile: ca}, client.WithName("remote-echo"))
	if err != nil {
		return err
	}
	defer c.Close()
	ready := make(chan struct{})
	a := c.Spawn(fmt.Sprintf("echo:%d", port), func(t *client.Turn) { serveEcho(t, port, ready) })
	select {
	case <-ready:
		fmt.Printf("serving echo on port %d\n", port)
	case <-a.Done():
		return fmt.Errorf("echo on port %d: %w", port, a.Err())
	case <-time.After(10 * time.Second):
		return fmt.Errorf("port %d did not open", port)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
		return nil
	case <-c.Done():
		return c.Err()
	case <-a.Done():
		return a.Err()
	}
}

// conn is one echo connection: bytes received and not yet echoed, and
// the grant to write.
type conn struct {
	remote     ds.Record
	pending    [][]byte
	credit     int
	peerClosed bool
	closeSent  bool
}

// serveEcho is the echo actor. Data is reported consumed only once it
// has been echoed, so a peer that does not read its echoes finds its
// window closed: the actor holds at most one receive window per
// connection.
func serveEcho(t *client.Turn, port uint16, ready chan struct{}) {
	local := &tcp.Listener{Port: port}
	lp := tcp.ListenerPattern(port)
	conns := map[netip.AddrPort]*conn{}
	key := func(r ds.Record) netip.AddrPort {
		return netip.AddrPortFrom(r.Field(0).AsAddr(), uint16(r.Field(1).AsInt()))
	}
	get := func(r ds.Record) *conn {
		k := key(r)
		if c := conns[k]; c != nil {
			return c
		}
		c := &conn{remote: r}
		conns[k] = c
		return c
	}
	flush := func(t *client.Turn, c *conn) {
		for c.credit > 0 && len(c.pending) > 0 {
			b := c.pending[0]
			n := min(len(b), c.credit)
			t.Send(&tcp.Channel{Src: local, Dst: c.remote, Data: b[:n]})
			t.Send(&tcp.Consumed{Remote: c.remote, Local: local, N: n})
			c.credit -= n
			if n == len(b) {
				c.pending = c.pending[1:]
			} else {
				c.pending[0] = b[n:]
			}
		}
		if c.peerClosed && len(c.pending) == 0 && !c.closeSent {
			c.closeSent = true
			t.Send(&tcp.Close{Remote: c.remote, Local: local, How: tcp.CloseWrite})
		}
	}
	t.Observe(ds.RecordPattern(tcp.LabelListening, ds.Lit(ds.Int(int64(port)))), client.Handler{
		Added: func(*client.Turn, []ds.Value) {
			select {
			case <-ready:
			default:
				close(ready)
			}
		},
	})
	// Observing the data of the port is what opens it.
	t.Observe(tcp.ChannelFrom(lp), client.Handler{
		Message: func(t *client.Turn, m ds.Record) {
			ch := m.(*tcp.Channel)
			c := get(ch.Src)
			c.pending = append(c.pending, ch.Data)
			flush(t, c)
		},
	})
	t.Observe(ds.RecordPattern(tcp.LabelWritable, ds.CaptureAny, lp, ds.CaptureAny), client.Handler{
		Message: func(t *client.Turn, m ds.Record) {
			w := m.(*tcp.Writable)
			c := get(w.Remote)
			c.credit += w.N
			flush(t, c)
		},
	})
	t.Observe(ds.RecordPattern(tcp.LabelConnection, ds.CaptureAny, lp, ds.CaptureAny), client.Handler{
		Added: func(t *client.Turn, caps []ds.Value) {
			r := caps[0].AsRecord()
			switch caps[1].AsString() {
			case tcp.StateEstablished:
				get(r)
			case tcp.StatePeerClosed:
				c := get(r)
				c.peerClosed = true
				flush(t, c)
			default: // closed, reset, timeout, aborted
				delete(conns, key(r))
			}
		},
		Removed: func(t *client.Turn, caps []ds.Value) { delete(conns, key(caps[0].AsRecord())) },
	})
}
