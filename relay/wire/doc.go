// Package wire is the actor link's common ground, shared by package relay
// (the stack's side) and package client (a remote program's side): the
// binary form of dataspace values, records and patterns, the frames the
// two ends exchange, the registry that turns a decoded record back into
// the typed record its label's package declares, and the transport —
// protoactor-go's remote package over gRPC, on a unix socket or on TCP
// with TLS, every connection authenticated with a token before gRPC
// speaks.
//
// # Frames
//
// Every frame travels as the payload of a google.protobuf.BytesValue, the
// one message type a link accepts (protoactor's remote serialises
// messages with protobuf). The payload is this package's own compact
// encoding: a version byte, a kind byte, then the fields. Values are
// tagged (bool, int, string, bytes, IP address, record); records carry
// their label by name, and the receiver resolves it among the labels its
// process declares, refusing unknown ones (a remote peer cannot grow the
// label table). Opaque values hold Go pointers and never cross. A
// protobuf schema for the recursive value type would cost an allocation
// per node and buy nothing, as both ends are this code base; the
// decoder bounds depth, fields, string and bytes lengths and frame size,
// and answers garbage with an error, never a panic.
//
// A client speaks in batches: one batch is one turn of one remote actor
// (observe, unobserve, assert, retract, send, stop), committed by that
// actor's proxy in the stack as one turn. The stack answers with events
// (added, removed, message) per subscription, so a remote actor sees
// exactly what a local actor with the same patterns would.
package wire
