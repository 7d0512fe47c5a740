// Command remote-http serves net/http on a netspace stack from another
// process: the handler runs here, unprivileged, and the connections are
// the stack's, reached over the actor link through the client library's
// net.Listener.
//
//	remote-http --stack unix:/run/netspace.sock --token-file /etc/netspace/token --port 8080
//	curl http://192.0.2.2:8080/            # from a host on the stack's link
//
// GET / answers "hello from another process"; GET /echo?n=N answers N
// bytes. It prints "serving http on port N" once listening.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"netspace/client"
)

func main() {
	stack := flag.String("stack", "unix:/run/netspace.sock", "the stack's actor link: unix:/PATH or tcp:HOST:PORT")
	tokenFile := flag.String("token-file", "", "file holding this program's token")
	ca := flag.String("ca", "", "the stack's certificate (PEM), for a tcp: link")
	port := flag.Uint("port", 8080, "port to serve HTTP on")
	flag.Parse()
	if err := run(*stack, *tokenFile, *ca, uint16(*port)); err != nil {
		fmt.Fprintln(os.Stderr, "remote-http:", err)
		os.Exit(1)
	}
}

// Handler is the program's HTTP handler.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello from another process")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("n"))
		if err != nil || n < 0 || n > 64<<20 {
			http.Error(w, "want 0 <= n <= 64 MiB", http.StatusBadRequest)
			return
		}
		w.Write(bytes.Repeat([]byte{'x'}, n))
	})
	return mux
}

func run(stack, tokenFile, ca string, port uint16) error {
	if tokenFile == "" || port == 0 {
		return errors.New("need --token-file and a --port")
	}
	tok, err := client.TokenFile(tokenFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, stack, client.Credentials{Token: tok, CAFile: ca}, client.WithName("remote-http"))
	if err != nil {
		return err
	}
	defer c.Close()
	l, err := c.Net().Listen(port)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	fmt.Printf("serving http on port %d\n", port)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case <-c.Done():
		err = c.Err()
	case err = <-served:
	}
	shut, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel2()
	srv.Shutdown(shut)
	return err
}
