package relay

import (
	"context"
	"crypto/tls"
	"path/filepath"
	"testing"
	"time"

	"netspace/actors"
	"netspace/relay/wire"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
)

const testToken = "guard-token-0123456789"

// rawStream opens protoactor's Receive stream to the server with a valid
// token, as a hostile client would, below the client library.
func rawStream(t *testing.T, addr string) remote.Remoting_ReceiveClient {
	t.Helper()
	creds := &wire.Creds{Dial: func(string) (string, *tls.Config, error) { return testToken, nil, nil }}
	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(creds), grpc.WithContextDialer(wire.Dialer))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	st, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = st.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
		ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{
			ServerConnection: &remote.ServerConnection{SystemId: "hostile", Address: "nowhere:1"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Recv(); err != nil {
		t.Fatalf("connect response: %v", err)
	}
	return st
}

// TestGuardRefusesHostileMessages: an authenticated peer that sends
// protoactor messages other than frames, to targets other than the gate
// or its own sessions, or with indices out of range, has its stream
// closed; nothing panics, every refusal is counted, and the stack still
// serves.
func TestGuardRefusesHostileMessages(t *testing.T) {
	sys := actors.NewSystem()
	addr := "unix:" + filepath.Join(t.TempDir(), "link.sock")
	srv, err := Start(sys, Config{Listen: addr, Credentials: []Credential{{Name: "c", Token: testToken}},
		Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(); sys.Close(5 * time.Second) })
	frame, _ := wire.Encode(&wire.Heartbeat{})
	gate := &actor.PID{Address: addr, Id: GateName}
	cases := map[string]*remote.MessageBatch{
		"system message type": {TypeNames: []string{"actor.Stop"}, Targets: []*actor.PID{gate},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0}}},
		"internal target": {TypeNames: []string{"google.protobuf.BytesValue"},
			Targets:   []*actor.PID{{Address: addr, Id: "EndpointSupervisor"}},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, MessageData: frame}}},
		"type index": {TypeNames: []string{"google.protobuf.BytesValue"}, Targets: []*actor.PID{gate},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 7, Target: 0}}},
		"target index": {TypeNames: []string{"google.protobuf.BytesValue"}, Targets: []*actor.PID{gate},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 3}}},
		"sender index": {TypeNames: []string{"google.protobuf.BytesValue"}, Targets: []*actor.PID{gate},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, Sender: 9}}},
		"serializer": {TypeNames: []string{"google.protobuf.BytesValue"}, Targets: []*actor.PID{gate},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, SerializerId: 1}}},
	}
	for name, b := range cases {
		before := srv.Counters().RefusedMessages
		st := rawStream(t, addr)
		if err := st.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: b}}); err != nil {
			t.Fatalf("%s: send: %v", name, err)
		}
		if _, err := st.Recv(); err == nil {
			t.Fatalf("%s: the stream stayed open", name)
		}
		if srv.Counters().RefusedMessages == before {
			t.Fatalf("%s: refusal not counted", name)
		}
	}
	// Garbage in a frame to the gate: refused and counted by the gate.
	st := rawStream(t, addr)
	bad := &remote.MessageBatch{TypeNames: []string{"google.protobuf.BytesValue"}, Targets: []*actor.PID{gate},
		Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, MessageData: []byte{0x0a, 3, 1, 99, 0}}}}
	if err := st.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: bad}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for srv.Counters().RefusedHellos == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a garbage hello was not refused")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if cs := srv.Counters(); cs.Sessions != 0 || sys.Stats().Assertions != 0 {
		t.Fatalf("hostile traffic reached the dataspace: %+v, %d assertions", cs, sys.Stats().Assertions)
	}
}
