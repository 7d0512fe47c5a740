package actors

import (
	"context"
	"log/slog"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// executor runs actors' turns: it owns their mailboxes.
type executor interface {
	spawn(a *Actor)
	deliver(a *Actor, d *delivery)
	stop(a *Actor)
	shutdown()
}

// protoExecutor runs each actor as a protoactor-go actor: a mailbox whose
// goroutine runs while there is work and parks when there is none. Panics
// never reach protoactor (turns contain them), so its supervision is not
// used.
type protoExecutor struct {
	sys  *actor.ActorSystem
	root *actor.RootContext
	mb   actor.PropsOption
	disp actor.PropsOption
}

type protoActor struct{ a *Actor }

func (p *protoActor) Receive(ctx actor.Context) {
	if d, ok := ctx.Message().(*delivery); ok {
		p.a.handle(d)
	}
}

func newProtoExecutor(log *zap.Logger, throughput int) *protoExecutor {
	named := log.Named("protoactor").WithOptions(zap.IncreaseLevel(zapcore.WarnLevel))
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(&zapSlog{log: named})
	}))
	return &protoExecutor{
		sys:  sys,
		root: sys.Root,
		mb:   actor.WithMailbox(actor.Unbounded()),
		disp: actor.WithDispatcher(actor.NewDefaultDispatcher(throughput)),
	}
}

func (e *protoExecutor) spawn(a *Actor) {
	pa := &protoActor{a: a}
	props := actor.PropsFromProducer(func() actor.Actor { return pa }, e.mb, e.disp)
	a.state = e.root.Spawn(props)
}

// deliver sends d to a's mailbox. a.state was set before a started, and
// deliveries reach the executor only after that.
func (e *protoExecutor) deliver(a *Actor, d *delivery) {
	e.root.Send(a.state.(*actor.PID), d)
}

func (e *protoExecutor) stop(a *Actor) {
	if pid, ok := a.state.(*actor.PID); ok {
		e.root.Stop(pid)
	}
}

func (e *protoExecutor) shutdown() { e.sys.Shutdown() }

// detExecutor runs every turn on the goroutine that calls runAll, in FIFO
// order of deliveries: the deterministic mode for tests.
type detExecutor struct {
	mu    sync.Mutex
	queue []detItem
	head  int
}

type detItem struct {
	a *Actor
	d *delivery
}

func newDetExecutor() *detExecutor { return &detExecutor{} }

func (e *detExecutor) spawn(*Actor) {}

func (e *detExecutor) deliver(a *Actor, d *delivery) {
	e.mu.Lock()
	e.queue = append(e.queue, detItem{a, d})
	e.mu.Unlock()
}

func (e *detExecutor) stop(*Actor) {}

func (e *detExecutor) shutdown() {}

func (e *detExecutor) runAll(limit int) {
	for n := 0; ; n++ {
		if n >= limit {
			panic("actors: no quiescence after the turn limit (livelock?)")
		}
		e.mu.Lock()
		if e.head == len(e.queue) {
			e.queue, e.head = e.queue[:0], 0
			e.mu.Unlock()
			return
		}
		it := e.queue[e.head]
		e.queue[e.head] = detItem{}
		e.head++
		e.mu.Unlock()
		it.a.handle(it.d)
	}
}

// zapSlog is a slog.Handler writing to zap, so protoactor's own logs go
// through the same logger as everything else.
type zapSlog struct {
	log   *zap.Logger
	attrs []zap.Field
}

func (h *zapSlog) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.Core().Enabled(slogLevel(l))
}

func (h *zapSlog) Handle(_ context.Context, r slog.Record) error {
	if ce := h.log.Check(slogLevel(r.Level), r.Message); ce != nil {
		fs := append([]zap.Field(nil), h.attrs...)
		r.Attrs(func(a slog.Attr) bool {
			fs = append(fs, zap.Any(a.Key, a.Value.Any()))
			return true
		})
		ce.Write(fs...)
	}
	return nil
}

func (h *zapSlog) WithAttrs(as []slog.Attr) slog.Handler {
	n := &zapSlog{log: h.log, attrs: append([]zap.Field(nil), h.attrs...)}
	for _, a := range as {
		n.attrs = append(n.attrs, zap.Any(a.Key, a.Value.Any()))
	}
	return n
}

func (h *zapSlog) WithGroup(name string) slog.Handler {
	return &zapSlog{log: h.log.Named(name), attrs: h.attrs}
}

func slogLevel(l slog.Level) zapcore.Level {
	switch {
	case l >= slog.LevelError:
		return zapcore.ErrorLevel
	case l >= slog.LevelWarn:
		return zapcore.WarnLevel
	case l >= slog.LevelInfo:
		// protoactor logs routine lifecycle at Info; keep it at Debug.
		return zapcore.DebugLevel
	default:
		return zapcore.DebugLevel
	}
}
