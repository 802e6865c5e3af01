package redistore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/internal/redistest"
	"github.com/continuity-go/continuity/redistore"
)

// A node that takes a dead node's session over shows the takeover as a
// continuity.takeover span under the step that made it (its node and its
// wait for the lease), and the replay that follows as a continuity.replay
// span under the same step.
func TestTakeoverSpans(t *testing.T) {
	e := newEnv(t, redistest.Options{})
	a := e.node(t, "a", 400*time.Millisecond)

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { require.NoError(t, tp.Shutdown(context.Background())) })
	opt, err := redis.ParseURL(e.srv.URL())
	require.NoError(t, err)
	rdb := redis.NewClient(opt)
	store, err := redistore.NewJournalStore(rdb, redistore.JournalOptions{LeaseTTL: 400 * time.Millisecond, AcquirePoll: 20 * time.Millisecond})
	require.NoError(t, err)
	srv, err := continuity.New(counterFlow, &continuity.Options{Keys: sharedKeys(t), Journal: store, Node: "b",
		Telemetry: continuity.Telemetry{TracerProvider: tp, MeterProvider: metricnoop.NewMeterProvider()}})
	require.NoError(t, err)
	b := &ctNode{srv: srv, rdb: rdb, web: httptest.NewServer(srv)}
	t.Cleanup(b.stop)

	c := browser(t)
	for i := 1; i <= 3; i++ {
		_, body := get(t, c, a.web.URL+"/")
		require.Contains(t, body, fmt.Sprintf("step %d<", i))
	}
	a.die()
	code, body := get(t, c, b.web.URL+"/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "step 4<")

	byName := map[string][]tracetest.SpanStub{}
	for _, s := range exp.GetSpans() {
		byName[s.Name] = append(byName[s.Name], s)
	}
	require.Len(t, byName["continuity.step"], 1)
	step := byName["continuity.step"][0]
	value := func(s tracetest.SpanStub, key string) attribute.Value {
		for _, kv := range s.Attributes {
			if string(kv.Key) == key {
				return kv.Value
			}
		}
		t.Errorf("%s has no %s", s.Name, key)
		return attribute.Value{}
	}
	logID := value(step, "continuity.session.log_id").AsString()

	require.Len(t, byName["continuity.takeover"], 1)
	to := byName["continuity.takeover"][0]
	assert.Equal(t, step.SpanContext.SpanID(), to.Parent.SpanID(), "a child of the step")
	assert.Equal(t, "b", value(to, "continuity.node").AsString())
	assert.Equal(t, "ok", value(to, "continuity.takeover.outcome").AsString())
	assert.Equal(t, logID, value(to, "continuity.session.log_id").AsString())
	assert.Positive(t, value(to, "continuity.replay.steps").AsInt64(), "journal entries loaded")
	assert.Positive(t, value(to, "continuity.takeover.lease_wait").AsFloat64(), "the dead node's lease had to lapse")
	assert.Equal(t, to.EndTime.Sub(to.StartTime) >= 0, true)

	require.Len(t, byName["continuity.replay"], 1)
	rs := byName["continuity.replay"][0]
	assert.Equal(t, step.SpanContext.SpanID(), rs.Parent.SpanID(), "a child of the step")
	assert.Equal(t, "ok", value(rs, "continuity.replay.outcome").AsString())
	assert.EqualValues(t, 3, value(rs, "continuity.replay.steps").AsInt64(), "the three steps node a served")
	assert.False(t, rs.StartTime.Before(to.EndTime), "the replay follows the takeover")
}
