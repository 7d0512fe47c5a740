package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"netspace"
	"netspace/client"
	"netspace/relay"
	"netspace/relay/wire"

	"go.uber.org/zap"
)

// The actor link: `netspace run --listen-actors unix:/run/netspace.sock`
// lets actors in other processes join the stack's dataspace (package
// relay; programs use package client).
func init() {
	var (
		listen, tokenFile, authFile, certFile, keyFile string
		heartbeat                                      time.Duration
		creds                                          []relay.Credential
	)
	registerFeature(&feature{
		name: "actor link",
		flags: func(fs *flag.FlagSet) {
			fs.StringVar(&listen, "listen-actors", "", "let actors in other processes join the dataspace at unix:/PATH or tcp:HOST:PORT")
			fs.StringVar(&tokenFile, "actors-token", "", "file holding the one token let in, with every permission")
			fs.StringVar(&authFile, "actors-auth", "", "credentials file: NAME TOKEN [PERMISSION ...] per line (see package relay)")
			fs.StringVar(&certFile, "actors-cert", "", "TLS certificate (PEM) of a tcp: actor link")
			fs.StringVar(&keyFile, "actors-key", "", "TLS key (PEM) of a tcp: actor link")
			fs.DurationVar(&heartbeat, "actors-heartbeat", 3*time.Second, "a silent remote client is given up after this long")
		},
		configure: func(*netspace.Config) error {
			if listen == "" {
				if tokenFile != "" || authFile != "" || certFile != "" || keyFile != "" {
					return errors.New("--actors-* flags need --listen-actors")
				}
				return nil
			}
			a, err := wire.ParseAddr(listen)
			if err != nil {
				return fmt.Errorf("--listen-actors: %w", err)
			}
			if (tokenFile == "") == (authFile == "") {
				return errors.New("--listen-actors needs one of --actors-token and --actors-auth")
			}
			if a.Net == "tcp" && (certFile == "" || keyFile == "") {
				return errors.New("--listen-actors tcp: needs --actors-cert and --actors-key")
			}
			if heartbeat < 100*time.Millisecond || heartbeat > time.Hour {
				return fmt.Errorf("--actors-heartbeat %v: between 100ms and 1h", heartbeat)
			}
			creds, err = loadCredentials(tokenFile, authFile)
			return err
		},
		start: func(st *netspace.Stack, log *zap.Logger) (func(), error) {
			if listen == "" {
				return nil, nil
			}
			srv, err := relay.Start(st.Sys, relay.Config{
				Listen: listen, Credentials: creds, CertFile: certFile, KeyFile: keyFile,
				Heartbeat: heartbeat, Logger: log,
			})
			if err != nil {
				return nil, err
			}
			return func() {
				srv.Close()
				log.Debug("actor link counters", zap.Any("counters", srv.Counters()))
			}, nil
		},
	})
}

// loadCredentials reads --actors-token (one credential, every
// permission) or --actors-auth (a credentials file).
func loadCredentials(tokenFile, authFile string) ([]relay.Credential, error) {
	path := tokenFile
	if authFile != "" {
		path = authFile
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(os.Stderr, "warning: %s is readable by others (chmod 600)\n", path)
	}
	if tokenFile != "" {
		tok, err := client.TokenFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--actors-token: %w", err)
		}
		if len(tok) < 16 || strings.ContainsAny(tok, " \t\n") {
			return nil, errors.New("--actors-token: want one token of 16 characters or more")
		}
		return []relay.Credential{{Name: "default", Token: tok}}, nil
	}
	f, err := os.Open(authFile)
	if err != nil {
		return nil, fmt.Errorf("--actors-auth: %w", err)
	}
	defer f.Close()
	creds, err := relay.ParseCredentials(f)
	if err != nil {
		return nil, fmt.Errorf("--actors-auth %s: %w", authFile, err)
	}
	return creds, nil
}
