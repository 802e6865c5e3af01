package continuity

import (
	"context"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/continuity-go/continuity/internal/handoff"
)

// ScopeName is the instrumentation scope of the server's tracer and meter:
// select or drop its spans and metrics by it in SDK views and processors.
const ScopeName = "github.com/continuity-go/continuity"

// Telemetry configures the OpenTelemetry instrumentation of a [Server]
// ([Options].Telemetry). The zero value reports to the global providers
// and reads trace context with the global propagator: a program that
// installs an SDK (otel.SetTracerProvider, otel.SetMeterProvider, before
// or after [New]) sees the server's spans and metrics, and one that does
// not pays next to nothing. To switch the instrumentation off, give the
// no-op providers (go.opentelemetry.io/otel/trace/noop and
// go.opentelemetry.io/otel/metric/noop): the server then records nothing
// at all.
//
// The server reports a span per step, named continuity.step: one for
// each request handed towards a session, from its arrival to its answer,
// with the session's hashed ID (never the ID), the step's number within
// the session, the path and the outcome; each step's span links to the
// previous step's span of the same session, so a flow can be followed
// from step to step. A replay (going back under Rewind, a re-show, a
// takeover's first run) is a continuity.replay span, and a takeover of a
// shared session a continuity.takeover span, each a child of the step it
// serves. Its metrics are listed in the README (“Observing a
// server”): sessions live, created, ended by reason and refused; requests
// by outcome; requests in sessions and queued; queue wait and step
// duration; http.server.request.duration; progress meters and watchers;
// topic waiters ([Server.ObserveTopic]).
type Telemetry struct {
	// TracerProvider makes the tracer of the step spans. Default
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the meter of the server's metrics. Default
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// Propagator reads the trace context of incoming requests (the
	// traceparent header, with propagation.TraceContext): a step's span
	// is then a child of the caller's. Default
	// otel.GetTextMapPropagator(), which reads nothing until a program
	// sets one.
	Propagator propagation.TextMapPropagator
	// Attributes are added to every metric and span of this server, to
	// tell several servers of one process apart (say
	// attribute.String("continuity.server", "chat")). Keep them few and
	// constant: each is a label of every series.
	Attributes []attribute.KeyValue
}

// Attribute keys of the spans and metrics. Where OpenTelemetry's semantic
// conventions name one, that name is used.
const (
	keyMethod    = attribute.Key("http.request.method")
	keyStatus    = attribute.Key("http.response.status_code")
	keyScheme    = attribute.Key("url.scheme")
	keyPath      = attribute.Key("url.path")
	keyErrorType = attribute.Key("error.type")

	keySession   = attribute.Key("continuity.session.log_id")
	keyStep      = attribute.Key("continuity.step.number")
	keyOutcome   = attribute.Key("continuity.outcome")
	keyEndReason = attribute.Key("continuity.session.end_reason")
	keyRefusal   = attribute.Key("continuity.refusal")
	keyTopic     = attribute.Key("continuity.topic")
	keyLink      = attribute.Key("continuity.link")

	keyReplaySteps   = attribute.Key("continuity.replay.steps")
	keyReplayOutcome = attribute.Key("continuity.replay.outcome")
	keyNode          = attribute.Key("continuity.node")
	keyLeaseWait     = attribute.Key("continuity.takeover.lease_wait")
	keyTakeover      = attribute.Key("continuity.takeover.outcome")
)

// telemetry is a server's instrumentation. A nil *telemetry records
// nothing: the server was given the no-op providers.
type telemetry struct {
	tracer trace.Tracer // nil: tracing off
	// globalTP is the global tracer provider as New found it, while no SDK
	// was installed: so long as it is still the global one, no span can
	// record, and steps skip the tracer altogether (its no-op Start
	// allocates).
	globalTP trace.TracerProvider
	prop     propagation.TextMapPropagator
	attrs    []attribute.KeyValue
	rec      metric.RecordOption // attrs, for the histograms

	reqDur, stepDur, queueWait metric.Float64Histogram
	replayDur                  metric.Float64Histogram
	reg                        metric.Registration // the observed metrics' callback; nil until observe
	closeOnce                  sync.Once

	inflight atomic.Int64 // steps being recorded: the hooks look for one only then

	// reqAttrs caches the attribute sets of http.server.request.duration,
	// by reqKey: a few dozen at most, since methods are normalised and
	// statuses are the server's.
	reqAttrs sync.Map
}

// reqKey is what the attributes of a request's duration depend on.
type reqKey struct {
	method string
	status int
	https  bool
}

// newTelemetry returns the instrumentation o asks for, or nil when it asks
// for none. Instruments the SDK refuses are reported to otel.Handle, as
// OpenTelemetry's instrumentation does, and never fail the server.
func newTelemetry(o Telemetry) *telemetry {
	tp, mp := o.TracerProvider, o.MeterProvider
	_, noTraces := tp.(tracenoop.TracerProvider)
	_, noMetrics := mp.(metricnoop.MeterProvider)
	if noTraces && noMetrics {
		return nil
	}
	t := &telemetry{attrs: append([]attribute.KeyValue(nil), o.Attributes...), prop: o.Propagator}
	if t.prop == nil {
		t.prop = otel.GetTextMapPropagator()
	}
	if !noTraces {
		if tp == nil {
			tp = otel.GetTracerProvider()
			if isGlobalDelegate(tp) {
				t.globalTP = tp
			}
		}
		t.tracer = tp.Tracer(ScopeName)
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	t.rec = metric.WithAttributeSet(attribute.NewSet(t.attrs...))
	var err error
	// The semantic conventions' buckets for HTTP durations, with finer ones
	// below 5ms for steps, which mostly take microseconds.
	httpBuckets := metric.WithExplicitBucketBoundaries(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
	fine := metric.WithExplicitBucketBoundaries(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
	t.reqDur, err = m.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of HTTP server requests."), httpBuckets)
	handle(err)
	t.stepDur, err = m.Float64Histogram("continuity.step.duration", metric.WithUnit("s"),
		metric.WithDescription("Time a session held a request: from taking it to answering it (Next, End or return)."), fine)
	handle(err)
	t.queueWait, err = m.Float64Histogram("continuity.queue.wait", metric.WithUnit("s"),
		metric.WithDescription("Time a request waited for its session to take it."), fine)
	handle(err)
	t.replayDur, err = m.Float64Histogram("continuity.replay.duration", metric.WithUnit("s"),
		metric.WithDescription("Time a replay took to bring a flow back to its live step, by outcome (continuity.replay.outcome)."), fine)
	handle(err)
	return t
}

func handle(err error) {
	if err != nil {
		otel.Handle(err)
	}
}

// isGlobalDelegate reports whether tp is OpenTelemetry's global provider
// before any SDK was installed: the delegate otel.GetTracerProvider
// returns until otel.SetTracerProvider replaces it. Its type is internal,
// so it is known by its package; should that ever move, steps merely go
// back to calling its no-op tracer.
func isGlobalDelegate(tp trace.TracerProvider) bool {
	t := reflect.TypeOf(tp)
	return t != nil && t.Kind() == reflect.Pointer && t.Elem().PkgPath() == "go.opentelemetry.io/otel/internal/global"
}

// tracing reports whether a step's span may record now.
func (t *telemetry) tracing() bool {
	if t.tracer == nil {
		return false
	}
	// Comparing interfaces is safe: the global delegate's type is a
	// pointer, and values of other types are simply unequal.
	return t.globalTP == nil || otel.GetTracerProvider() != t.globalTP
}

// A step is one request on its way through the server while telemetry
// records it: the ResponseWriter the server answers it through (so that
// it learns the status and, in [Server.count], the outcome) and what its
// span and metrics need. The session goroutine writes only the atomics
// and the span, which are safe to share; the rest belongs to the
// handler's goroutine.
type step struct {
	w       http.ResponseWriter
	r       *http.Request
	start   time.Time
	traced  bool       // the span may record: attach starts one
	span    trace.Span // nil: none
	ctx     context.Context
	status  int // the first final status written; 0 if none
	outcome reqOutcome
	// hasOutcome is set once the outcome is known.
	hasOutcome bool
	handed     time.Duration // since start, when last handed to a session
	takeover   *takeoverCost // a takeover this request made, not yet recorded

	// Since start, when the session took the request and when it was done
	// with it; 0 until then. Written by the session goroutine.
	taken, answered atomic.Int64
}

// stepKey is the request context key of the step being recorded.
type stepKey struct{}

// begin returns the step recording r, or nil when nothing would record
// it (no SDK installed), which is the fast path: then the server touches
// none of this.
func (t *telemetry) begin(w http.ResponseWriter, r *http.Request) *step {
	if t == nil {
		return nil
	}
	traced := t.tracing()
	if !traced {
		ctx := r.Context()
		if !t.reqDur.Enabled(ctx) && !t.stepDur.Enabled(ctx) && !t.queueWait.Enabled(ctx) {
			return nil
		}
	}
	t.inflight.Add(1)
	return &step{w: w, r: r, start: time.Now(), traced: traced, ctx: r.Context()}
}

// attach starts the step's span, if it may record, and returns r with
// the step (and the span) in its context, for the hooks and for the
// application's own spans. It is called once the request is bound for a
// session.
func (t *telemetry) attach(st *step, r *http.Request) *http.Request {
	ctx := r.Context()
	if st.traced {
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
		parent := trace.SpanContextFromContext(ctx)
		kind := trace.SpanKindServer
		if parent.IsValid() && !parent.IsRemote() {
			kind = trace.SpanKindInternal // an HTTP server span of the program's is already open
		}
		attrs := make([]attribute.KeyValue, 0, 3+len(t.attrs))
		attrs = append(attrs, keyMethod.String(method(r.Method)), keyScheme.String(scheme(r)), keyPath.String(r.URL.Path))
		attrs = append(attrs, t.attrs...)
		var span trace.Span
		ctx, span = t.tracer.Start(ctx, "continuity.step", trace.WithSpanKind(kind),
			trace.WithTimestamp(st.start), trace.WithAttributes(attrs...))
		sc := span.SpanContext()
		if span.IsRecording() || (sc.IsValid() && sc.SpanID() != parent.SpanID()) {
			st.span = span // an SDK's, sampled or not: the step is numbered either way
		}
	}
	ctx = context.WithValue(ctx, stepKey{}, st)
	st.ctx = ctx
	st.r = r.WithContext(ctx)
	return st.r
}

// handing notes that the request is being handed to sess.
func (st *step) handing(sess *handoff.Session) {
	st.handed = time.Since(st.start)
	if st.span != nil {
		st.span.SetAttributes(keySession.String(sess.LogID()))
	}
	st.tookOver(sess.LogID())
}

// replayed runs when a replay reaches the live step or fails (the Replay
// hook): a continuity.replay span under the live request's step span,
// from the replay's start, and its duration.
func (t *telemetry) replayed(s *handoff.Session, live *http.Request, steps int, took time.Duration, err error) {
	ctx := context.Background()
	if live != nil {
		ctx = live.Context()
	}
	outcome := replayOutcome(err)
	if t.replayDur.Enabled(ctx) {
		t.replayDur.Record(ctx, took.Seconds(), metric.WithAttributeSet(attribute.NewSet(append([]attribute.KeyValue{keyReplayOutcome.String(outcome)}, t.attrs...)...)))
	}
	if !t.tracing() || !trace.SpanContextFromContext(ctx).IsValid() {
		return // replays are shown only within a step's trace
	}
	end := time.Now()
	attrs := make([]attribute.KeyValue, 0, 3+len(t.attrs))
	attrs = append(attrs, keySession.String(s.LogID()), keyReplaySteps.Int(steps), keyReplayOutcome.String(outcome))
	attrs = append(attrs, t.attrs...)
	_, span := t.tracer.Start(ctx, "continuity.replay", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(end.Add(-took)), trace.WithAttributes(attrs...))
	if err != nil {
		span.SetStatus(codes.Error, outcome)
	}
	span.End(trace.WithTimestamp(end))
}

// replayOutcome names how a replay ended.
func replayOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, handoff.ErrDivergence):
		return "divergence"
	case errors.Is(err, handoff.EndReplayTimeout):
		return "timeout"
	}
	return "ended"
}

// takeoverCost is what a takeover (shared.go) cost the request that made
// it, kept on its step until the session's log ID is known.
type takeoverCost struct {
	start, end time.Time
	leaseWait  time.Duration
	steps      int // journal entries loaded
	node       string
	err        error
}

// noteTakeover keeps what a takeover cost on the step of the request
// that made it (in ctx), for tookOver to record; it does nothing when
// the step has no span.
func noteTakeover(ctx context.Context, c takeoverCost) {
	if st, _ := ctx.Value(stepKey{}).(*step); st != nil && st.span != nil {
		st.takeover = &c
	}
}

// tookOver records the takeover the step's request made, if any, as a
// continuity.takeover span under the step's span; logID is the session's
// log ID, empty if no session came of it.
func (st *step) tookOver(logID string) {
	c := st.takeover
	if c == nil {
		return
	}
	st.takeover = nil
	outcome := "ok"
	if c.err != nil {
		outcome = "error"
	}
	attrs := []attribute.KeyValue{keyNode.String(c.node), keyReplaySteps.Int(c.steps),
		keyLeaseWait.Float64(c.leaseWait.Seconds()), keyTakeover.String(outcome)}
	if logID != "" {
		attrs = append(attrs, keySession.String(logID))
	}
	tr := st.span.TracerProvider().Tracer(ScopeName)
	_, span := tr.Start(st.ctx, "continuity.takeover", trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithTimestamp(c.start), trace.WithAttributes(attrs...))
	if c.err != nil {
		span.SetStatus(codes.Error, c.err.Error())
	}
	span.End(trace.WithTimestamp(c.end))
}

// stepOf returns the step being recorded for the request in h's hand.
func (t *telemetry) stepOf(h *handoff.Handle) *step {
	if t.inflight.Load() == 0 {
		return nil
	}
	hr := h.HTTP()
	if hr == nil {
		return nil
	}
	st, _ := hr.Context().Value(stepKey{}).(*step)
	return st
}

// sessionSteps is what a session's spans carry from step to step; only
// the session goroutine touches it.
type sessionSteps struct {
	n    int64
	prev trace.SpanContext
}

type sessionStepsKey struct{}

// taken runs when a session takes a request (the RequestStart hook): the
// step gets its number and its link to the session's previous step.
func (t *telemetry) taken(h *handoff.Handle) {
	st := t.stepOf(h)
	if st == nil {
		return
	}
	st.taken.Store(max(int64(time.Since(st.start)), 1))
	if st.span == nil {
		return
	}
	ss := h.Session().ValueOrSet(sessionStepsKey{}, func() any { return new(sessionSteps) }).(*sessionSteps)
	ss.n++
	st.span.SetAttributes(keyStep.Int64(ss.n))
	if ss.prev.IsValid() {
		st.span.AddLink(trace.Link{SpanContext: ss.prev, Attributes: []attribute.KeyValue{keyLink.String("previous_step")}})
	}
	ss.prev = st.span.SpanContext()
	st.span.AddEvent("continuity.taken")
}

// answered runs when the session is done with the request (the
// RequestEnd hook).
func (t *telemetry) answered(h *handoff.Handle) {
	st := t.stepOf(h)
	if st == nil {
		return
	}
	st.answered.Store(max(int64(time.Since(st.start)), 1))
	if st.span != nil {
		st.span.AddEvent("continuity.answered")
	}
}

// end records the step once the server has answered it.
func (t *telemetry) end(st *step) {
	t.inflight.Add(-1)
	elapsed := time.Since(st.start)
	status := st.status
	if status == 0 && !(st.hasOutcome && st.outcome == oClientGone) {
		status = http.StatusOK // net/http's, for a handler that wrote nothing
	}
	ctx := st.ctx
	if t.reqDur.Enabled(ctx) {
		t.reqDur.Record(ctx, elapsed.Seconds(), t.reqAttributes(reqKey{method(st.r.Method), status, st.r.TLS != nil}))
	}
	if taken := time.Duration(st.taken.Load()); taken > 0 {
		t.queueWait.Record(ctx, max(taken-st.handed, 0).Seconds(), t.rec)
		if answered := time.Duration(st.answered.Load()); answered >= taken {
			t.stepDur.Record(ctx, (answered - taken).Seconds(), t.rec)
		}
	}
	if span := st.span; span != nil {
		st.tookOver("")
		if st.hasOutcome {
			span.SetAttributes(keyOutcome.String(st.outcome.String()))
		}
		if status != 0 {
			span.SetAttributes(keyStatus.Int(status))
		}
		if status >= 500 || (st.hasOutcome && (st.outcome == oPanicked || st.outcome == oResponseTimeout)) {
			span.SetStatus(codes.Error, st.outcome.String())
		}
		span.End()
	}
}

// reqAttributes returns the attributes of a request's duration.
func (t *telemetry) reqAttributes(k reqKey) metric.RecordOption {
	if o, ok := t.reqAttrs.Load(k); ok {
		return o.(metric.RecordOption)
	}
	sch := "http"
	if k.https {
		sch = "https"
	}
	attrs := make([]attribute.KeyValue, 0, 4+len(t.attrs))
	attrs = append(attrs, keyMethod.String(k.method), keyScheme.String(sch))
	if k.status != 0 {
		attrs = append(attrs, keyStatus.Int(k.status))
	}
	if k.status >= 500 {
		attrs = append(attrs, keyErrorType.String(strconv.Itoa(k.status)))
	}
	attrs = append(attrs, t.attrs...)
	o, _ := t.reqAttrs.LoadOrStore(k, metric.RecordOption(metric.WithAttributeSet(attribute.NewSet(attrs...))))
	return o.(metric.RecordOption)
}

// The ResponseWriter of a recorded request: it passes everything through,
// noting the status. Unwrap lets http.ResponseController (flushes, write
// deadlines) reach the connection.

func (st *step) Header() http.Header { return st.w.Header() }

func (st *step) WriteHeader(code int) {
	if st.status == 0 && code >= 200 {
		st.status = code
	}
	st.w.WriteHeader(code)
}

func (st *step) Write(p []byte) (int, error) {
	if st.status == 0 {
		st.status = http.StatusOK
	}
	return st.w.Write(p)
}

func (st *step) WriteString(s string) (int, error) {
	if st.status == 0 {
		st.status = http.StatusOK
	}
	return io.WriteString(st.w, s)
}

// ReadFrom keeps static files on the connection's sendfile path.
func (st *step) ReadFrom(src io.Reader) (int64, error) {
	if st.status == 0 {
		st.status = http.StatusOK
	}
	if rf, ok := st.w.(io.ReaderFrom); ok {
		return rf.ReadFrom(src)
	}
	return io.Copy(st.w, src)
}

func (st *step) Unwrap() http.ResponseWriter { return st.w }

// method is the request method as the semantic conventions record it:
// the known methods, and _OTHER for the rest, so that a client cannot
// make up series.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete,
		http.MethodConnect, http.MethodOptions, http.MethodTrace, http.MethodPatch, "QUERY":
		return m
	}
	return "_OTHER"
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// A topicWaiters counts the receivers waiting on a topic: any
// [Topic][T] is one.
type topicWaiters interface{ Waiters() int }

// topics are the topics observed with ObserveTopic.
type topics struct {
	mu   sync.Mutex
	list []observedTopic
}

type observedTopic struct {
	name string
	t    topicWaiters
}

// ObserveTopic reports the receivers waiting on topic (long polls and
// streams in [Topic.Wait]) under name: in the continuity.topic.waiters
// metric, with the attribute continuity.topic=name, and on the admin page.
// Topics belong to the application, so the server sees only those it is
// shown; observe each once, with a short constant name. A later call with
// the same name replaces the topic.
func (s *Server) ObserveTopic(name string, topic interface{ Waiters() int }) {
	s.topics.mu.Lock()
	defer s.topics.mu.Unlock()
	for i := range s.topics.list {
		if s.topics.list[i].name == name {
			s.topics.list[i].t = topic
			return
		}
	}
	s.topics.list = append(s.topics.list, observedTopic{name, topic})
}

// topicWaiters returns the observed topics' waiters, by name, in the order
// they were observed.
func (s *Server) topicWaiters() []observedTopicCount {
	s.topics.mu.Lock()
	list := append([]observedTopic(nil), s.topics.list...)
	s.topics.mu.Unlock()
	out := make([]observedTopicCount, len(list))
	for i, o := range list {
		out[i] = observedTopicCount{o.name, o.t.Waiters()}
	}
	return out
}

type observedTopicCount struct {
	Name    string
	Waiters int
}

// observe registers the metrics read from the server's own counters at
// each collection: they cost the server nothing between collections.
func (t *telemetry) observe(s *Server, mp metric.MeterProvider) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	if _, ok := mp.(metricnoop.MeterProvider); ok {
		return
	}
	m := mp.Meter(ScopeName)
	var err error
	ints := func(name, unit, desc string, counter bool) metric.Int64Observable {
		var o metric.Int64Observable
		if counter {
			o, err = m.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		} else {
			o, err = m.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		}
		handle(err)
		return o
	}
	live := ints("continuity.session.live", "{session}", "Sessions live now.", false)
	created := ints("continuity.session.created", "{session}", "Sessions created.", true)
	ended := ints("continuity.session.ended", "{session}", "Sessions ended, by reason (continuity.session.end_reason).", true)
	refused := ints("continuity.session.refused", "{session}", "New sessions refused: at the cap with every session busy (full), or the client over its share (client_limit).", true)
	requests := ints("continuity.requests", "{request}", "Requests answered, by outcome (continuity.outcome).", true)
	retries := ints("continuity.request.retries", "{request}", "Requests mapped again because their session ended before taking them.", true)
	crossSite := ints("continuity.request.cross_site", "{request}", "Requests from other sites, passed on without their input.", true)
	active := ints("continuity.request.active", "{request}", "Requests in sessions now: being handled or waiting their turn.", false)
	depth := ints("continuity.queue.depth", "{request}", "Requests waiting now for a busy session.", false)
	meters := ints("continuity.progress.meters", "{meter}", "Progress meters the store holds (running, and finished ones still readable).", false)
	watchers := ints("continuity.progress.watchers", "{watcher}", "Long polls and event streams waiting on progress meters.", false)
	waiters := ints("continuity.topic.waiters", "{waiter}", "Receivers waiting on a topic (continuity.topic), for topics shown with ObserveTopic.", false)
	draining := ints("continuity.draining", "1", "1 while the server drains (refuses new sessions), else 0.", false)

	base := metric.WithAttributeSet(attribute.NewSet(t.attrs...))
	with := func(kv ...attribute.KeyValue) metric.ObserveOption {
		return metric.WithAttributeSet(attribute.NewSet(append(kv, t.attrs...)...))
	}
	var byOutcome [numOutcomes]metric.ObserveOption
	for o := range numOutcomes {
		byOutcome[o] = with(keyOutcome.String(o.String()))
	}
	refusedFull, refusedClient := with(keyRefusal.String("full")), with(keyRefusal.String("client_limit"))

	t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := s.mapper.Stats()
		o.ObserveInt64(live, int64(st.Live), base)
		o.ObserveInt64(created, int64(st.Created), base)
		for reason, n := range st.Ended {
			o.ObserveInt64(ended, int64(n), with(keyEndReason.String(reason)))
		}
		o.ObserveInt64(refused, int64(st.Refused), refusedFull)
		o.ObserveInt64(refused, int64(st.ClientRefused), refusedClient)
		for oc := range numOutcomes {
			switch oc {
			case oRetried:
				o.ObserveInt64(retries, int64(s.counts.n[oc].Load()), base)
			case oCrossSite:
				o.ObserveInt64(crossSite, int64(s.counts.n[oc].Load()), base)
			default:
				o.ObserveInt64(requests, int64(s.counts.n[oc].Load()), byOutcome[oc])
			}
		}
		o.ObserveInt64(active, int64(st.Waiting), base)
		o.ObserveInt64(depth, int64(s.queued()), base)
		if n, ok := s.progress.Meters(); ok {
			o.ObserveInt64(meters, int64(n), base)
		}
		o.ObserveInt64(watchers, int64(s.progress.Watchers()), base)
		for _, tc := range s.topicWaiters() {
			o.ObserveInt64(waiters, int64(tc.Waiters), with(keyTopic.String(tc.Name)))
		}
		var d int64
		if s.draining.Load() {
			d = 1
		}
		o.ObserveInt64(draining, d, base)
		return nil
	}, live, created, ended, refused, requests, retries, crossSite, active, depth, meters, watchers, waiters, draining)
	handle(err)
}

// queued is the number of requests waiting for busy sessions: those in
// sessions beyond the one each is handling.
func (s *Server) queued() int {
	n := 0
	for _, sess := range s.mapper.Sessions() {
		if q := sess.Queued(); q > 1 {
			n += q - 1
		}
	}
	return n
}

// close unregisters the observed metrics: a server that has stopped
// reports nothing more.
func (t *telemetry) close() {
	if t != nil && t.reg != nil {
		t.closeOnce.Do(func() { handle(t.reg.Unregister()) })
	}
}
