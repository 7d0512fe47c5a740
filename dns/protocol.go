package dns

import (
	"net/netip"

	ds "netspace/dataspace"
)

// The DNS records; trace layer "dns".
var (
	LabelAnswer = ds.NewLabel("dns-answer", "dns", "name", "type", "value")
	LabelError  = ds.NewLabel("dns-error", "dns", "code")
	LabelServer = ds.NewLabel("dns-server", "dns", "addr")
	LabelName   = ds.NewLabel("dns-name", "dns", "name", "addr")
)

// Negative outcomes, as dns-error(code) in the value of a dns-answer.
const (
	ErrNXDomain = "nxdomain" // the name does not exist (RCODE 3)
	ErrNoData   = "nodata"   // the name exists, without records of the type
	ErrServFail = "servfail" // every server failed or refused
	ErrTimeout  = "timeout"  // no server answered in time
	ErrNoServer = "no-server"
	ErrBadName  = "bad-name" // not a valid domain name
	ErrBusy     = "busy"     // too many lookups in progress
	ErrLoop     = "cname-loop"
)

// Answer is the assertion dns-answer(name, type, value): one answer to
// the question (name, type). Value is an address (ds.Addr) for A
// records, a name (ds.String) for PTR and CNAME records, or dns-error(code)
// for a negative answer. Observing dns-answer(name, type, ?) — name and
// type literal — asks the resolver, which asserts the answers until the
// interest goes and keeps them fresh as their TTLs run out. Name is
// asserted exactly as the observer wrote it.
type Answer struct {
	Name  string
	Type  uint16
	Value ds.Value
}

// Label implements dataspace.Record.
func (r *Answer) Label() *ds.Label { return LabelAnswer }

// Arity implements dataspace.Record.
func (r *Answer) Arity() int { return 3 }

// Field implements dataspace.Record.
func (r *Answer) Field(i int) ds.Value {
	switch i {
	case 0:
		return ds.String(r.Name)
	case 1:
		return ds.Int(int64(r.Type))
	default:
		return r.Value
	}
}

// Error is dns-error(code), the value of a negative dns-answer.
type Error struct{ Code string }

// Label implements dataspace.Record.
func (r *Error) Label() *ds.Label { return LabelError }

// Arity implements dataspace.Record.
func (r *Error) Arity() int { return 1 }

// Field implements dataspace.Record.
func (r *Error) Field(int) ds.Value { return ds.String(r.Code) }

// Server is the assertion dns-server(addr): addr is a name server to ask
// (port 53). The DHCP client asserts the servers of its lease; a program
// may assert its own.
type Server struct{ Addr netip.Addr }

// Label implements dataspace.Record.
func (r *Server) Label() *ds.Label { return LabelServer }

// Arity implements dataspace.Record.
func (r *Server) Arity() int { return 1 }

// Field implements dataspace.Record.
func (r *Server) Field(int) ds.Value { return ds.Addr(r.Addr) }

// Name is the assertion dns-name(name, addr): the responder answers A
// queries for name with addr, and PTR queries for addr with name.
type Name struct {
	Name string
	Addr netip.Addr
}

// Label implements dataspace.Record.
func (r *Name) Label() *ds.Label { return LabelName }

// Arity implements dataspace.Record.
func (r *Name) Arity() int { return 2 }

// Field implements dataspace.Record.
func (r *Name) Field(i int) ds.Value {
	if i == 0 {
		return ds.String(r.Name)
	}
	return ds.Addr(r.Addr)
}

// AnswerPattern is dns-answer(name, qtype, ?value): what to observe to
// resolve name.
func AnswerPattern(name string, qtype uint16) *ds.Pattern {
	return ds.RecordPattern(LabelAnswer, ds.Lit(ds.String(name)), ds.Lit(ds.Int(int64(qtype))), ds.CaptureAny)
}

// ErrorValue is the value of a negative answer: dns-error(code).
func ErrorValue(code string) ds.Value { return ds.Rec(&Error{Code: code}) }

// ErrorCode returns the code of a negative answer's value, or "".
func ErrorCode(v ds.Value) string {
	if r := v.AsRecord(); r != nil && r.Label() == LabelError && r.Arity() == 1 {
		return r.Field(0).AsString()
	}
	return ""
}
