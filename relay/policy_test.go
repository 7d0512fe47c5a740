package relay

import (
	"strings"
	"testing"

	ds "netspace/dataspace"
	"netspace/tcp"
)

func TestPolicyPorts(t *testing.T) {
	p, err := ParsePolicy([]string{"tcp-listen:8000..8099"})
	if err != nil {
		t.Fatal(err)
	}
	obs := func(port uint16) *ds.Pattern { return tcp.ChannelFrom(tcp.ListenerPattern(port)) }
	if !p.AllowObserve(obs(8000), "") || !p.AllowObserve(obs(8099), "") {
		t.Error("ports in range refused")
	}
	if p.AllowObserve(obs(7999), "") || p.AllowObserve(obs(8100), "") {
		t.Error("ports out of range allowed")
	}
	// A wildcard or capture where the rule wants a port would reach other
	// credentials' ports.
	wild := ds.RecordPattern(tcp.LabelChannel, ds.CaptureAny, ds.RecordPattern(tcp.LabelListener, ds.CaptureAny), ds.CaptureAny)
	if p.AllowObserve(wild, "") || p.AllowObserve(ds.CaptureAny, "") {
		t.Error("wildcard port allowed")
	}
	// A literal record where the rule has a record pattern.
	lit := ds.RecordPattern(tcp.LabelChannel, ds.CaptureAny, ds.Lit(ds.Rec(&tcp.Listener{Port: 8001})), ds.CaptureAny)
	if !p.AllowObserve(lit, "") {
		t.Error("literal listener record refused")
	}
	me := &tcp.Listener{Port: 8001}
	peer := &tcp.Address{Port: 1}
	if !p.AllowSend(&tcp.Channel{Src: me, Dst: peer, Data: []byte("x")}, "") || !p.AllowSend(&tcp.Consumed{Remote: peer, Local: me, N: 1}, "") {
		t.Error("sends on an allowed port refused")
	}
	if p.AllowSend(&tcp.Channel{Src: &tcp.Listener{Port: 9000}, Dst: peer}, "") {
		t.Error("send on another port allowed")
	}
	if p.AllowAssert(&tcp.Listening{Port: 8001}, "") {
		t.Error("assertion allowed without a rule")
	}
}

func TestPolicyOwnHandles(t *testing.T) {
	p, err := ParsePolicy([]string{"tcp-connect"})
	if err != nil {
		t.Fatal(err)
	}
	dial := func(id string) *ds.Pattern {
		return ds.RecordPattern(tcp.LabelChannel,
			ds.RecordPattern(tcp.LabelAddress, ds.Lit(ds.Int(0)), ds.Lit(ds.Int(80))),
			ds.RecordPattern(tcp.LabelHandle, ds.Lit(ds.String(id))), ds.CaptureAny)
	}
	if !p.AllowObserve(dial("abc/dial-1"), "abc/") {
		t.Error("own handle refused")
	}
	if p.AllowObserve(dial("xyz/dial-1"), "abc/") || p.AllowObserve(dial("dial-1"), "abc/") {
		t.Error("another session's handle allowed")
	}
}

func TestParseCredentials(t *testing.T) {
	in := `# comment
echo   echo-token-0123456789   tcp-listen:7   observe:tcp-connection(_, tcp-listener(7), _)
admin  admin-token-0123456789  all
dns    dns-token-0123456789    dns assert:dns-server(_)
`
	cs, err := ParseCredentials(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 3 || cs[0].Name != "echo" || cs[1].Token != "admin-token-0123456789" {
		t.Fatalf("parsed %+v", cs)
	}
	if !cs[1].Allow.AllowAssert(&tcp.Listening{Port: 1}, "") {
		t.Error("all does not allow")
	}
	for _, bad := range []string{
		"",
		"lonely",
		"x short",
		"x token-0123456789abc tcp-listen:70000",
		"x token-0123456789abc observe:no-such-label(_)",
		"x token-0123456789abc observe:tcp-listener(1, 2)",
		"x token-0123456789abc fly",
		"x token-0123456789abc observe:tcp-listener(1",
		"x token-0123456789abc\nx token-0123456789abd",
	} {
		if _, err := ParseCredentials(strings.NewReader(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
