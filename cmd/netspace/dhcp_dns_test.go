package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestDHCPDNSBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		msg  string
	}{
		{[]string{"run", "--dns-name", "nohost"}, `netspace: invalid value "nohost" for flag -dns-name: want host=IPv4`},
		{[]string{"run", "--dns-name", "a..b=192.0.2.2"}, `netspace: invalid value "a..b=192.0.2.2" for flag -dns-name: "a..b" is not a domain name`},
		{[]string{"run", "--dns-server", "x"}, `netspace: invalid value "x" for flag -dns-server`},
		{[]string{"fetch"}, "netspace: fetch: want one URL, got 0 arguments"},
		{[]string{"fetch", "https://example.test/"}, `netspace: fetch: "https://example.test/" is not an http:// URL`},
		{[]string{"fetch", "--timeout", "0s", "http://example.test/"}, "netspace: bad --timeout 0s"},
		{[]string{"fetch", "--addr", "nope", "http://example.test/"}, `netspace: bad --addr "nope"`},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		code := run(c.args, &out, &errb)
		if code != 2 || !strings.HasPrefix(errb.String(), c.msg) || strings.Count(errb.String(), "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want 2, one line starting %q", c.args, code, errb.String(), c.msg)
		}
	}
	var out, errb bytes.Buffer
	if code := run([]string{"run", "-h"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "-dhcp") ||
		!strings.Contains(out.String(), "-dns-name") {
		t.Errorf("run -h: exit %d, lacks --dhcp or --dns-name:\n%s", code, out.String())
	}
}
