package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDemo(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "--names", "alice,bob,carol"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr:\n%s", code, errb.String())
	}
	for _, want := range []string{`alice heard "hello, alice"`, `carol heard "hello, carol"`, "bob leaves",
		"done: 8 actors spawned"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, out.String())
		}
	}
	// The trace shows spawning on demand and stopping when demand goes.
	for _, want := range []string{"demand without supply: spawning", `"name": "greeter-carol"`, "trace\tstop"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("trace lacks %q", want)
		}
	}
}

func TestBadInvocations(t *testing.T) {
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{}, 2, "usage: netspace"},
		{[]string{"frob"}, 2, `netspace: unknown command "frob"`},
		{[]string{"demo", "--no-such-flag"}, 2, "netspace: flag provided but not defined: -no-such-flag"},
		{[]string{"demo", "--trace", "nope"}, 2, `netspace: unknown trace layer "nope"`},
		{[]string{"demo", "--log-level", "loud"}, 2, `netspace: bad --log-level "loud"`},
		{[]string{"demo", "extra"}, 2, `netspace: demo: unexpected argument "extra"`},
		{[]string{"demo", "--names", ","}, 2, "netspace: --names: no names given"},
		{[]string{"run", "--tcp-cc", "vegas"}, 2, `netspace: bad --tcp-cc "vegas"`},
		{[]string{"run", "--addr", "192.0.2.2"}, 2, `netspace: bad --addr "192.0.2.2"`},
		{[]string{"run", "--tap", "t0", "--packet", "eth0"}, 2, "netspace: --tap and --packet are exclusive"},
		{[]string{"replay"}, 2, "netspace: replay: want one pcap file, got 0 arguments"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != c.code || !strings.HasPrefix(errb.String(), c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", c.args, code, errb.String(), c.code, c.msg)
		}
		if c.code == 2 && len(c.args) > 0 && strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: error is not one line: %q", c.args, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"demo", "-h"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "-names") {
		t.Errorf("demo -h: exit %d, stdout %q", code, out.String())
	}
}
