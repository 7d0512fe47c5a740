// Package actors is netspace's actor runtime on protoactor-go: actors that
// assert, retract, send and observe in one shared dataspace, with turns,
// fate sharing, contained crashes, tracing and a deterministic mode for
// tests.
package actors
