package continuity_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/continuity-go/continuity"
)

// spansNamed returns the exported spans called name.
func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// parentStep returns the continuity.step span that s is a child of.
func parentStep(t *testing.T, exp *tracetest.InMemoryExporter, s tracetest.SpanStub) tracetest.SpanStub {
	t.Helper()
	for _, p := range spansNamed(exp, "continuity.step") {
		if p.SpanContext.SpanID() == s.Parent.SpanID() && p.SpanContext.TraceID() == s.Parent.TraceID() {
			return p
		}
	}
	require.Fail(t, "no continuity.step span is the parent of "+s.Name)
	return tracetest.SpanStub{}
}

// Going back and resubmitting under Rewind replays the flow: the replay is
// a continuity.replay span under the step that caused it, from the
// replay's start, with the steps it replayed and its outcome.
func TestTelemetryReplaySpan(t *testing.T) {
	tp, exp := tracing(t)
	w := &wizardApp{}
	srv, ts := start(t, w.run, &continuity.Options{Logger: quietLogger(), StalePolicy: continuity.Rewind,
		Telemetry: continuity.Telemetry{TracerProvider: tp, MeterProvider: metricnoop.NewMeterProvider()}})
	c := browser(t)
	p0, _, _ := toConfirm(t, c, ts.URL, "ann", "ann@example.com")
	require.Empty(t, spansNamed(exp, "continuity.replay"), "no replay yet")
	back := submitStep(t, c, ts.URL, p0, "name", "bob")
	require.Equal(t, "email", back.step())

	replays := spansNamed(exp, "continuity.replay")
	require.Len(t, replays, 1)
	rs := replays[0]
	step := parentStep(t, exp, rs)
	path, _ := attr(step.Attributes, "url.path")
	assert.Equal(t, "/wizard", path.AsString())
	n, _ := attr(step.Attributes, "continuity.step.number")
	assert.EqualValues(t, 4, n.AsInt64(), "the resubmission's step")
	want := map[string]any{
		"continuity.session.log_id": srv.Inspect()[0].ID,
		"continuity.replay.steps":   int64(1), // the first page's request, replayed to reach step 0
		"continuity.replay.outcome": "ok",
	}
	for k, v := range want {
		got, ok := attr(rs.Attributes, k)
		if assert.True(t, ok, k) {
			assert.Equal(t, v, got.AsInterface(), k)
		}
	}
	assert.False(t, rs.StartTime.Before(step.StartTime), "the replay starts within the step")
	assert.False(t, rs.EndTime.Before(rs.StartTime))
	assert.False(t, step.EndTime.Before(rs.EndTime), "and ends within it")
}

// A replay that diverges from the journal is a continuity.replay span with
// the outcome divergence, and an error status.
func TestTelemetryReplayDivergenceSpan(t *testing.T) {
	tp, exp := tracing(t)
	var changed atomic.Bool
	app := func(r *continuity.Request) {
		tokenPage(r, "name", "")
		r.Next()
		if changed.Load() {
			continuity.Once(r, "extra", func(context.Context, string) (int, error) { return 1, nil })
		}
		tokenPage(r, "email", "")
		r.Next()
		tokenPage(r, "confirm", "")
		r.Next()
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger(), StalePolicy: continuity.Rewind,
		Telemetry: continuity.Telemetry{TracerProvider: tp, MeterProvider: metricnoop.NewMeterProvider()}})
	c := browser(t)
	p0 := getPage(t, c, ts.URL+"/wizard")
	p1 := submitStep(t, c, ts.URL, p0, "name", "ann")
	p2 := submitStep(t, c, ts.URL, p1, "email", "e")
	require.Equal(t, "confirm", p2.step())
	changed.Store(true)
	got := submitStep(t, c, ts.URL, p1, "email", "f")
	require.Equal(t, http.StatusInternalServerError, got.status)

	require.Eventually(t, func() bool { return len(spansNamed(exp, "continuity.replay")) == 1 }, testTimeout, tick)
	rs := spansNamed(exp, "continuity.replay")[0]
	parentStep(t, exp, rs)
	o, _ := attr(rs.Attributes, "continuity.replay.outcome")
	assert.Equal(t, "divergence", o.AsString())
	steps, ok := attr(rs.Attributes, "continuity.replay.steps")
	assert.True(t, ok)
	assert.EqualValues(t, 2, steps.AsInt64(), "steps 0 and 1 replayed before the extra Once")
}
