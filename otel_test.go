package continuity_test

import (
	"context"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/continuity-go/continuity"
)

// tracing returns a tracer provider that exports each span, as it ends, to
// the in-memory exporter it returns; it is shut down with the test.
func tracing(t *testing.T) (*sdktrace.TracerProvider, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	return tp, exp
}

// metering returns a meter provider read by hand through the reader it
// returns; it is shut down with the test.
func metering(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { require.NoError(t, mp.Shutdown(context.Background())) })
	return mp, reader
}

// knownIDs mints session IDs the test knows, to look for them where they
// must never be.
type knownIDs struct{ n atomic.Int64 }

func (k *knownIDs) newID() (string, error) {
	return fmt.Sprintf("secret-session-id-%04d-xxxxxxxxxxxxxxxx", k.n.Add(1)), nil
}

func attr(kvs []attribute.KeyValue, key string) (attribute.Value, bool) {
	for _, kv := range kvs {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// Each step of a counter flow is a span of its own, carrying the hashed
// session ID, the step's number, the path and the outcome, and linked to
// the previous step's span; neither the session ID nor the cookie appears
// in any attribute.
func TestTelemetrySpanPerStepLinked(t *testing.T) {
	tp, exp := tracing(t)
	ids := new(knownIDs)
	srv, ts := start(t, counter, &continuity.Options{
		Logger:    quietLogger(),
		NewID:     ids.newID,
		Telemetry: continuity.Telemetry{TracerProvider: tp, MeterProvider: metricnoop.NewMeterProvider()},
	})
	c := browser(t)
	paths := []string{"/", "/count", "/count", "/done"}
	for i, p := range paths {
		code, body := get(t, c, ts.URL+p)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, fmt.Sprint(i+1), body)
	}
	u, _ := url.Parse(ts.URL)
	cookies := c.Jar.Cookies(u)
	require.Len(t, cookies, 1)
	secrets := []string{cookies[0].Value, "secret-session-id-0001"}
	logID := srv.Inspect()[0].ID

	spans := exp.GetSpans()
	require.Len(t, spans, len(paths), "one span per step")
	slices.SortFunc(spans, func(a, b tracetest.SpanStub) int {
		na, _ := attr(a.Attributes, "continuity.step.number")
		nb, _ := attr(b.Attributes, "continuity.step.number")
		return int(na.AsInt64() - nb.AsInt64())
	})
	for i, s := range spans {
		assert.Equal(t, "continuity.step", s.Name)
		assert.Equal(t, trace.SpanKindServer, s.SpanKind)
		assert.Equal(t, continuity.ScopeName, s.InstrumentationScope.Name)
		want := map[string]any{
			"continuity.step.number":    int64(i + 1),
			"continuity.session.log_id": logID,
			"url.path":                  paths[i],
			"continuity.outcome":        "served",
			"http.request.method":       "GET",
			"http.response.status_code": int64(200),
		}
		for k, v := range want {
			got, ok := attr(s.Attributes, k)
			if assert.True(t, ok, "span %d has %s", i, k) {
				assert.Equal(t, v, got.AsInterface(), "span %d: %s", i, k)
			}
		}
		var events []string
		for _, e := range s.Events {
			events = append(events, e.Name)
		}
		assert.Equal(t, []string{"continuity.taken", "continuity.answered"}, events, "span %d", i)
		assert.NotEqual(t, codes.Error, s.Status.Code)
		if i == 0 {
			assert.Empty(t, s.Links, "the first step links nowhere")
		} else if assert.Len(t, s.Links, 1, "span %d", i) {
			assert.Equal(t, spans[i-1].SpanContext, s.Links[0].SpanContext, "span %d links to the previous step", i)
			assert.NotEqual(t, spans[i-1].SpanContext.TraceID(), s.SpanContext.TraceID(), "each step is a trace of its own")
		}

		// Nothing recorded carries the session ID or the cookie.
		var all []attribute.KeyValue
		all = append(all, s.Attributes...)
		for _, e := range s.Events {
			all = append(all, e.Attributes...)
		}
		for _, l := range s.Links {
			all = append(all, l.Attributes...)
		}
		all = append(all, s.Resource.Attributes()...)
		for _, kv := range all {
			for _, secret := range secrets {
				assert.NotContains(t, kv.Value.Emit(), secret, "span %d attribute %s", i, kv.Key)
			}
		}
		assert.NotContains(t, s.Name, secrets[1])
	}
}

// A step whose request carries a traceparent is a child of the caller's
// span, in the caller's trace.
func TestTelemetryHonoursTraceparent(t *testing.T) {
	tp, exp := tracing(t)
	_, ts := start(t, counter, &continuity.Options{
		Logger: quietLogger(),
		Telemetry: continuity.Telemetry{
			TracerProvider: tp,
			MeterProvider:  metricnoop.NewMeterProvider(),
			Propagator:     propagation.TraceContext{},
			Attributes:     []attribute.KeyValue{attribute.String("continuity.server", "test")},
		},
	})
	const (
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	req, err := http.NewRequest(http.MethodGet, ts.URL+"/", nil)
	require.NoError(t, err)
	req.Header.Set("traceparent", "00-"+traceID+"-"+spanID+"-01")
	resp, err := browser(t).Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	spans := exp.GetSpans()
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, traceID, s.SpanContext.TraceID().String())
	assert.Equal(t, spanID, s.Parent.SpanID().String())
	assert.True(t, s.Parent.IsRemote())
	v, ok := attr(s.Attributes, "continuity.server")
	assert.True(t, ok)
	assert.Equal(t, "test", v.AsString())
}

// A request refused at mapping, and one whose session panics, still get a
// span, with their outcome and an error status.
func TestTelemetryRefusalsAndErrors(t *testing.T) {
	tp, exp := tracing(t)
	app := func(r *continuity.Request) {
		for {
			if r.Path() == "/boom" {
				panic("boom")
			}
			r.Print("ok")
			r.Next()
		}
	}
	srv, ts := start(t, app, &continuity.Options{
		Logger:    quietLogger(),
		Telemetry: continuity.Telemetry{TracerProvider: tp, MeterProvider: metricnoop.NewMeterProvider()},
	})
	c := browser(t)
	code, _ := get(t, c, ts.URL+"/")
	require.Equal(t, http.StatusOK, code)
	code, _ = get(t, c, ts.URL+"/boom")
	require.Equal(t, http.StatusInternalServerError, code)
	done, cancel := context.WithCancel(context.Background())
	cancel()
	_ = srv.Drain(done) // draining from now on
	code, _ = get(t, browser(t), ts.URL+"/")
	require.Equal(t, http.StatusServiceUnavailable, code)

	byOutcome := map[string]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		v, _ := attr(s.Attributes, "continuity.outcome")
		byOutcome[v.AsString()] = s
	}
	require.Contains(t, byOutcome, "panicked")
	p := byOutcome["panicked"]
	assert.Equal(t, codes.Error, p.Status.Code)
	st, _ := attr(p.Attributes, "http.response.status_code")
	assert.EqualValues(t, 500, st.AsInt64())

	require.Contains(t, byOutcome, "draining")
	d := byOutcome["draining"]
	assert.Equal(t, codes.Error, d.Status.Code)
	st, _ = attr(d.Attributes, "http.response.status_code")
	assert.EqualValues(t, 503, st.AsInt64())
	_, ok := attr(d.Attributes, "continuity.session.log_id")
	assert.False(t, ok, "a refused request has no session")
	_, ok = attr(d.Attributes, "continuity.step.number")
	assert.False(t, ok, "nor a step number")
}

// The metrics move with the flow: sessions live, created and ended by
// reason, requests by outcome, and the histograms of requests, steps and
// queue waits.
func TestTelemetryMetricsMove(t *testing.T) {
	mp, reader := metering(t)
	app := func(r *continuity.Request) {
		for r.Path() != "/bye" {
			r.Print("step")
			r.Next()
		}
		r.Print("bye")
	}
	srv, ts := start(t, app, &continuity.Options{
		Logger: quietLogger(),
		Telemetry: continuity.Telemetry{
			TracerProvider: tracenoop.NewTracerProvider(),
			MeterProvider:  mp,
			Attributes:     []attribute.KeyValue{attribute.String("continuity.server", "test")},
		},
	})
	topic := continuity.NewTopic[int](0)
	srv.ObserveTopic("news", topic)

	before := collect(t, reader)
	assert.Zero(t, sumOf(before, "continuity.session.created", nil))

	a, b := browser(t), browser(t)
	for _, p := range []string{"/", "/x", "/bye"} {
		code, _ := get(t, a, ts.URL+p)
		require.Equal(t, http.StatusOK, code)
	}
	for _, p := range []string{"/", "/x"} {
		code, _ := get(t, b, ts.URL+p)
		require.Equal(t, http.StatusOK, code)
	}
	resp, err := http.Post(ts.URL+"/", "text/plain", nil)
	require.NoError(t, err) // a POST with no Origin or Sec-Fetch-Site is let through; PUT is not allowed
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPut, ts.URL+"/", nil)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Eventually(t, func() bool { return srv.Metrics().LiveSessions == 2 }, testTimeout, tick, "a's session ended")

	rm := collect(t, reader)
	assert.EqualValues(t, 3, sumOf(rm, "continuity.session.created", nil))
	assert.EqualValues(t, 2, sumOf(rm, "continuity.session.live", nil))
	assert.EqualValues(t, 1, sumOf(rm, "continuity.session.ended", map[string]string{"continuity.session.end_reason": "returned"}))
	assert.EqualValues(t, 6, sumOf(rm, "continuity.requests", map[string]string{"continuity.outcome": "served"}))
	assert.EqualValues(t, 1, sumOf(rm, "continuity.requests", map[string]string{"continuity.outcome": "method_not_allowed"}))
	assert.EqualValues(t, 0, sumOf(rm, "continuity.topic.waiters", map[string]string{"continuity.topic": "news"}))
	assert.EqualValues(t, 0, sumOf(rm, "continuity.queue.depth", nil))
	assert.EqualValues(t, 6, histCount(rm, "continuity.step.duration", nil))
	assert.EqualValues(t, 6, histCount(rm, "continuity.queue.wait", nil))
	assert.EqualValues(t, 5, histCount(rm, "http.server.request.duration", map[string]string{"http.response.status_code": "200", "http.request.method": "GET"}))
	assert.EqualValues(t, 1, histCount(rm, "http.server.request.duration", map[string]string{"http.response.status_code": "200", "http.request.method": "POST"}))
	assert.EqualValues(t, 1, histCount(rm, "http.server.request.duration", map[string]string{"http.response.status_code": "405", "http.request.method": "PUT"}))

	// Every data point carries the server's attributes.
	for _, sm := range rm.ScopeMetrics {
		require.Equal(t, continuity.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			for _, set := range pointAttrs(m) {
				v, ok := set.Value("continuity.server")
				assert.True(t, ok && v.AsString() == "test", "%s lacks the server's attribute", m.Name)
			}
		}
	}
}

// With the no-op providers the server records nothing and serves as
// before; with the global providers and no SDK installed, a step
// allocates nothing more than with the no-op providers.
func TestTelemetryNoSDKCostsNoAllocations(t *testing.T) {
	off := continuity.Telemetry{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()}
	measurer := func(tel continuity.Telemetry) func() float64 {
		srv, err := continuity.New(counter, &continuity.Options{Logger: quietLogger(), Telemetry: tel})
		require.NoError(t, err)
		t.Cleanup(func() { srv.Shutdown(context.Background()) })
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		cookie := rec.Result().Cookies()[0]
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(cookie)
		w := &discardWriter{h: make(http.Header)}
		return func() float64 {
			const steps = 5000
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range steps {
				w.reset()
				srv.ServeHTTP(w, req.Clone(req.Context()))
				if w.n == 0 {
					t.Fatal("empty response")
				}
			}
			runtime.ReadMemStats(&after)
			return float64(after.Mallocs-before.Mallocs) / steps
		}
	}
	// Allocations per step, as a fraction: a garbage collection empties
	// the pools, which then allocate anew, and the race detector adds its
	// own, so the average is not a whole number, and noise only adds: the
	// fewest of a few rounds is the step's own. One allocation more a step
	// would be a whole one; the noise is a small fraction of one.
	offRun, apiRun := measurer(off), measurer(continuity.Telemetry{})
	offAllocs, apiAllocs := math.Inf(1), math.Inf(1)
	for range 3 {
		offAllocs = min(offAllocs, offRun())
		apiAllocs = min(apiAllocs, apiRun())
	}
	t.Logf("allocations per step: off %.3f, api %.3f", offAllocs, apiAllocs)
	assert.Less(t, apiAllocs-offAllocs, 0.5, "no SDK: no allocation beyond the uninstrumented step")
}

func collect(t *testing.T, r *sdkmetric.ManualReader) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.Collect(context.Background(), &rm))
	return rm
}

// matches reports whether set has every attribute of want (values as
// emitted strings).
func matches(set attribute.Set, want map[string]string) bool {
	for k, v := range want {
		got, ok := set.Value(attribute.Key(k))
		if !ok || got.Emit() != v {
			return false
		}
	}
	return true
}

// sumOf adds the points of the sum named name whose attributes match want.
func sumOf(rm metricdata.ResourceMetrics, name string, want map[string]string) int64 {
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if s, ok := m.Data.(metricdata.Sum[int64]); ok {
				for _, p := range s.DataPoints {
					if matches(p.Attributes, want) {
						n += p.Value
					}
				}
			}
		}
	}
	return n
}

// histCount counts the measurements of the histogram named name whose
// attributes match want.
func histCount(rm metricdata.ResourceMetrics, name string, want map[string]string) uint64 {
	var n uint64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			if h, ok := m.Data.(metricdata.Histogram[float64]); ok {
				for _, p := range h.DataPoints {
					if matches(p.Attributes, want) {
						n += p.Count
					}
				}
			}
		}
	}
	return n
}

func pointAttrs(m metricdata.Metrics) []attribute.Set {
	var out []attribute.Set
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Gauge[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	}
	return out
}

// The library imports OpenTelemetry's API only: the SDK and the exporters
// are for the programs (and the examples and tests) to choose.
func TestTelemetryImportsAPIOnly(t *testing.T) {
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() && (path == "examples" || path == "bench" || path == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			for _, banned := range []string{"go.opentelemetry.io/otel/sdk", "go.opentelemetry.io/otel/exporters", "github.com/prometheus/"} {
				assert.False(t, strings.HasPrefix(p, banned), "%s imports %s", path, p)
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// A recorded request still streams: the step's ResponseWriter lets
// flushes (and write deadlines) through to the connection.
func TestTelemetryRecordedRequestStreams(t *testing.T) {
	mp, reader := metering(t)
	tp, exp := tracing(t)
	more := make(chan struct{})
	app := func(r *continuity.Request) {
		r.Print("first\n")
		assert.NoError(t, r.Flush())
		<-more
		r.Print("second\n")
		r.Next()
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger(), Telemetry: continuity.Telemetry{TracerProvider: tp, MeterProvider: mp}})
	resp, err := browser(t).Get(ts.URL + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	br := bufioReader(resp.Body)
	line, err := br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "first\n", line, "flushed while the session still holds the request")
	close(more)
	line, err = br.ReadString('\n')
	require.NoError(t, err)
	assert.Equal(t, "second\n", line)
	_, err = br.ReadString('\n')
	require.ErrorIs(t, err, io.EOF)
	require.Len(t, exp.GetSpans(), 1)
	assert.EqualValues(t, 1, histCount(collect(t, reader), "continuity.step.duration", nil))
}
