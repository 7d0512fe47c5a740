// Package tcp is netspace's transport layer for TCP (RFC 9293).
//
// This part of the package is leaf code that imports only netspace/ip
// (for checksums): sequence-number arithmetic ([Seq], RFC 9293 §3.4), the
// segment header as a view over a []byte ([Header], §3.1) and its options
// (MSS, window scale and timestamps from RFC 7323, SACK from RFC 2018)
// parsed into and encoded from a plain [Options] value.
//
// As in the other wire-format packages, a view has a Check method after
// which no accessor panics, whatever the bytes; decoding allocates
// nothing; encoders write into a caller's buffer and return the number of
// bytes written, and panic only when that buffer is too short or their
// arguments are impossible (options longer than 40 bytes). Malformed input
// is reported with errors that match [ErrTruncated], [ErrBadDataOffset] or
// [ErrBadOption] under errors.Is, never with a panic.
//
// The connection state machine, the send and receive paths and the actor
// that hosts them live in this package too, in files of their own.
package tcp
