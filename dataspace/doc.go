// Package dataspace holds netspace's data model and its routing index: the
// pure heart of the Syndicate-style design, with no goroutines and no
// networking.
//
// # Values and records
//
// Every fact in the dataspace is a [Record]: a labelled tuple with ordered
// fields. Protocol packages declare a Go struct per record and implement
// [Record] on its pointer type, returning each field as a [Value]. A Value
// is a small tagged union (bool, int, string, bytes, IP address, nested
// record, or an opaque comparable Go value) that can be built and compared
// without allocating, so routing a packet-like record costs no garbage.
// Equality and hashing are structural: two records are equal when their
// labels and fields are equal, whatever Go types carry them.
//
// # Patterns
//
// A [Pattern] is a record shape with [Discard] (`_`), [Capture] (`?`),
// literals and nested record patterns. Patterns are themselves records, so
// interest can be asserted as an ordinary fact, [Observe], and observed in
// turn with [ObservePattern]: a driver that observes
// ObservePattern(tcp-channel(_, tcp-listener(?), _)) captures the port of
// every user pattern tcp-channel(…, tcp-listener(7), …).
//
// # The index
//
// [Index] is a skeleton index in the manner of syndicate-rs skeleton.rs and
// syndicate-js skeleton.js. Observers are grouped first by the classes
// (label and arity) their patterns require at each path, then by the set of
// paths that hold constants, then by the constant values themselves, and
// finally by the paths they capture. Routing a value walks only the class
// tree that the value satisfies and, at each group of constant paths, makes
// one hash lookup: its cost does not grow with the number of observers that
// differ only in constants. Assertions have bag semantics (a value asserted
// twice needs two retractions); observers see Added when a capture tuple
// appears, Removed when it disappears, and Message for every matching
// message. A new observer is told Added for everything already present.
//
// The index is not safe for concurrent mutation; package actors guards it
// and lets message routing run concurrently with other routing.
package dataspace
