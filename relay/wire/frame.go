package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	ds "netspace/dataspace"
)

// Version is the frame format's version, the first byte of every frame.
const Version = 1

// Frame kinds, the second byte of every frame.
const (
	kindHello     = 1
	kindWelcome   = 2
	kindRefused   = 3
	kindBatch     = 4
	kindEvent     = 5
	kindActorEnd  = 6
	kindHeartbeat = 7
	kindBye       = 8
)

// MaxOps is the most actions one batch (one remote turn) may carry.
const MaxOps = 4096

// MaxCaptures is the most captures one event may carry.
const MaxCaptures = MaxFields

// Hello is the client's first frame, sent to the stack's gate: who it is
// and how the stack reaches it back.
type Hello struct {
	Token   string // the credential (checked again here; the transport checked it first)
	Reply   string // address of the client's inbox PID
	ReplyID string // id of the client's inbox PID
	Secret  string // what the stack presents when it dials the client
	Pin     []byte // SHA-256 of the client's TLS certificate (TCP links), else empty
	Name    string // the program's name, for logs
}

// Welcome answers a Hello: the session the client speaks to.
type Welcome struct {
	Session  string        // id of the session's PID on the stack
	Prefix   string        // the session's namespace for handle ids ("own" in allow-lists)
	Interval time.Duration // how often the client sends a heartbeat
	Timeout  time.Duration // silence after which either end gives the other up
	Window   int           // most event bytes the stack sends unacknowledged
}

// Refused answers a Hello that is not let in.
type Refused struct{ Reason string }

// Actions of a batch.
const (
	OpObserve   = 1 // ID: subscription, Pattern
	OpUnobserve = 2 // ID: subscription
	OpAssert    = 3 // ID: handle, Record
	OpRetract   = 4 // ID: handle
	OpSend      = 5 // Record
	OpStop      = 6
)

// Op is one action of a remote actor's turn.
type Op struct {
	Kind    byte
	ID      uint64
	Pattern *ds.Pattern
	Record  ds.Record
}

// Batch is one turn of a remote actor: its actions, to be committed
// together by the actor's proxy in the stack. A turn too large for one
// frame travels as several batches, all but the last with More set; the
// receiver commits them together once the last has arrived.
type Batch struct {
	Actor uint64
	Name  string // the actor's name, on its first batch (which spawns its proxy)
	More  bool   // the turn goes on in the next batch of this actor
	Ops   []Op
}

// MaxTurnBytes bounds the frames of one turn, all its batches together.
const MaxTurnBytes = 16 << 20

// EncodeBatch returns the frames of a turn: one batch, or several when
// its actions do not fit one frame.
func EncodeBatch(b *Batch) ([][]byte, error) {
	var frames [][]byte
	total := 0
	var ops []byte // encoded ops of the frame being filled
	n := 0
	flush := func(more bool) {
		f := append(make([]byte, 0, len(ops)+32), Version, kindBatch)
		f = binary.AppendUvarint(f, b.Actor)
		name := ""
		if len(frames) == 0 {
			name = b.Name
		}
		f = appendString(f, name)
		f = append(f, boolByte(more))
		f = binary.AppendUvarint(f, uint64(n))
		f = append(f, ops...)
		frames = append(frames, f)
		total += len(f)
		ops, n = ops[:0], 0
	}
	var scratch []byte
	for i := range b.Ops {
		var err error
		if scratch, err = appendOp(scratch[:0], &b.Ops[i]); err != nil {
			return nil, err
		}
		if len(scratch)+64+len(b.Name) > MaxFrame {
			return nil, fmt.Errorf("wire: one action of %d bytes is over the frame limit", len(scratch))
		}
		if n > 0 && (len(ops)+len(scratch)+64+len(b.Name) > MaxFrame || n == MaxOps) {
			flush(true)
		}
		ops = append(ops, scratch...)
		n++
	}
	flush(false)
	if total > MaxTurnBytes {
		return nil, fmt.Errorf("wire: a turn of %d bytes is over the limit of %d", total, MaxTurnBytes)
	}
	return frames, nil
}

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// Event kinds.
const (
	EvAdded   = 1
	EvRemoved = 2
	EvMessage = 3
)

// Event is what a proxy observed for its remote actor.
type Event struct {
	Actor uint64
	Sub   uint64
	Kind  byte
	Caps  []ds.Value // EvAdded, EvRemoved
	Msg   ds.Record  // EvMessage
}

// ActorEnd tells the client that an actor's proxy has stopped: a refused
// turn, or a limit.
type ActorEnd struct {
	Actor  uint64
	Reason string
}

// Heartbeat keeps a session alive; Acked counts the event bytes the
// client has received so far (the stack's send window).
type Heartbeat struct{ Acked uint64 }

// Bye ends a session.
type Bye struct{ Reason string }

// Encode returns the frame for f, one of the frame types of this package.
func Encode(f any) ([]byte, error) { return AppendFrame(nil, f) }

// AppendFrame appends the frame for f to b.
func AppendFrame(b []byte, f any) ([]byte, error) {
	var err error
	switch f := f.(type) {
	case *Hello:
		b = append(b, Version, kindHello)
		for _, s := range []string{f.Token, f.Reply, f.ReplyID, f.Secret, string(f.Pin), f.Name} {
			b = appendString(b, s)
		}
	case *Welcome:
		b = append(b, Version, kindWelcome)
		b = appendString(appendString(b, f.Session), f.Prefix)
		b = binary.AppendUvarint(b, uint64(f.Interval.Milliseconds()))
		b = binary.AppendUvarint(b, uint64(f.Timeout.Milliseconds()))
		b = binary.AppendUvarint(b, uint64(f.Window))
	case *Refused:
		b = appendString(append(b, Version, kindRefused), f.Reason)
	case *Batch:
		b = append(b, Version, kindBatch)
		b = binary.AppendUvarint(b, f.Actor)
		b = appendString(b, f.Name)
		b = append(b, boolByte(f.More))
		b = binary.AppendUvarint(b, uint64(len(f.Ops)))
		for i := range f.Ops {
			if b, err = appendOp(b, &f.Ops[i]); err != nil {
				return b, err
			}
		}
	case *Event:
		b = append(b, Version, kindEvent)
		b = binary.AppendUvarint(b, f.Actor)
		b = binary.AppendUvarint(b, f.Sub)
		b = append(b, f.Kind)
		if f.Kind == EvMessage {
			b, err = AppendRecord(b, f.Msg)
		} else {
			b = binary.AppendUvarint(b, uint64(len(f.Caps)))
			for _, v := range f.Caps {
				if b, err = AppendValue(b, v); err != nil {
					break
				}
			}
		}
	case *ActorEnd:
		b = binary.AppendUvarint(append(b, Version, kindActorEnd), f.Actor)
		b = appendString(b, f.Reason)
	case *Heartbeat:
		b = binary.AppendUvarint(append(b, Version, kindHeartbeat), f.Acked)
	case *Bye:
		b = appendString(append(b, Version, kindBye), f.Reason)
	default:
		return b, fmt.Errorf("wire: no frame for %T", f)
	}
	if err == nil && len(b) > MaxFrame {
		err = fmt.Errorf("wire: frame of %d bytes is over the limit", len(b))
	}
	return b, err
}

func appendOp(b []byte, op *Op) ([]byte, error) {
	b = append(b, op.Kind)
	switch op.Kind {
	case OpObserve:
		return AppendPattern(binary.AppendUvarint(b, op.ID), op.Pattern)
	case OpUnobserve, OpRetract:
		return binary.AppendUvarint(b, op.ID), nil
	case OpAssert:
		return AppendRecord(binary.AppendUvarint(b, op.ID), op.Record)
	case OpSend:
		return AppendRecord(b, op.Record)
	case OpStop:
		return b, nil
	}
	return b, fmt.Errorf("wire: unknown op %d", op.Kind)
}

// ErrVersion is returned for a frame of another version.
var ErrVersion = errors.New("wire: unsupported frame version")

// Decode parses one frame, returning a pointer to one of the frame types
// of this package. Records decode as the registry's typed records; bytes
// alias b. Anything malformed or over a limit is an error, never a panic.
func Decode(b []byte, reg *Registry) (any, error) {
	if len(b) > MaxFrame {
		return nil, fmt.Errorf("wire: frame of %d bytes is over the limit", len(b))
	}
	d := &Decoder{buf: b, Records: reg}
	if d.Byte() != Version {
		if d.err != nil {
			return nil, d.err
		}
		return nil, ErrVersion
	}
	var f any
	switch kind := d.Byte(); kind {
	case kindHello:
		h := &Hello{Token: d.String(), Reply: d.String(), ReplyID: d.String(), Secret: d.String()}
		h.Pin = []byte(d.String())
		h.Name = d.String()
		f = h
	case kindWelcome:
		w := &Welcome{Session: d.String(), Prefix: d.String()}
		w.Interval = time.Duration(d.Count(1<<30)) * time.Millisecond
		w.Timeout = time.Duration(d.Count(1<<30)) * time.Millisecond
		w.Window = d.Count(1 << 40)
		f = w
	case kindRefused:
		f = &Refused{Reason: d.String()}
	case kindBatch:
		bt := &Batch{Actor: d.Uvarint(), Name: d.String()}
		switch d.Byte() {
		case 0:
		case 1:
			bt.More = true
		default:
			d.fail("bad batch flags")
		}
		n := d.Count(MaxOps)
		if d.err == nil {
			bt.Ops = make([]Op, n)
		}
		for i := 0; i < n && d.err == nil; i++ {
			op := &bt.Ops[i]
			op.Kind = d.Byte()
			switch op.Kind {
			case OpObserve:
				op.ID = d.Uvarint()
				op.Pattern = d.Pattern()
			case OpUnobserve, OpRetract:
				op.ID = d.Uvarint()
			case OpAssert:
				op.ID = d.Uvarint()
				op.Record = d.Record()
			case OpSend:
				op.Record = d.Record()
			case OpStop:
			default:
				d.fail("unknown op %d", op.Kind)
			}
		}
		f = bt
	case kindEvent:
		ev := &Event{Actor: d.Uvarint(), Sub: d.Uvarint(), Kind: d.Byte()}
		switch ev.Kind {
		case EvMessage:
			ev.Msg = d.Record()
		case EvAdded, EvRemoved:
			n := d.Count(MaxCaptures)
			if d.err == nil {
				ev.Caps = make([]ds.Value, n)
			}
			for i := 0; i < n && d.err == nil; i++ {
				ev.Caps[i] = d.Value()
			}
		default:
			d.fail("unknown event kind %d", ev.Kind)
		}
		f = ev
	case kindActorEnd:
		f = &ActorEnd{Actor: d.Uvarint(), Reason: d.String()}
	case kindHeartbeat:
		f = &Heartbeat{Acked: d.Uvarint()}
	case kindBye:
		f = &Bye{Reason: d.String()}
	default:
		if d.err == nil {
			d.fail("unknown frame kind %d", kind)
		}
	}
	if d.err == nil && len(d.buf) != 0 {
		d.fail("%d bytes after the frame", len(d.buf))
	}
	if d.err != nil {
		return nil, d.err
	}
	return f, nil
}
