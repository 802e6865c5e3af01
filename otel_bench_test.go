package continuity_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/continuity-go/continuity"
)

// BenchmarkCounterStepTelemetry is BenchmarkCounterStep with each kind of
// instrumentation, in one run so that they compare:
//
//   - off: the no-op providers given, so the server records nothing (as
//     before there was any instrumentation);
//   - api: the default, the global providers with no SDK installed;
//   - sdk-metrics: an SDK meter provider (a manual reader, never read);
//   - sdk: that and an SDK tracer provider sampling every step, whose
//     spans go through a batch processor to an exporter that drops them.
func BenchmarkCounterStepTelemetry(b *testing.B) {
	run := func(b *testing.B, tel continuity.Telemetry) {
		srv, err := continuity.New(counterPage, &continuity.Options{Logger: quietLogger(), Telemetry: tel})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Shutdown(context.Background())
		benchStep(b, srv)
	}
	meters := func(b *testing.B) *sdkmetric.MeterProvider {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { mp.Shutdown(context.Background()) })
		return mp
	}
	b.Run("off", func(b *testing.B) {
		run(b, continuity.Telemetry{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()})
	})
	b.Run("api", func(b *testing.B) { run(b, continuity.Telemetry{}) })
	b.Run("sdk-metrics", func(b *testing.B) {
		run(b, continuity.Telemetry{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: meters(b)})
	})
	b.Run("sdk", func(b *testing.B) {
		tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		b.Cleanup(func() { tp.Shutdown(context.Background()) })
		run(b, continuity.Telemetry{TracerProvider: tp, MeterProvider: meters(b)})
	})
}

// BenchmarkTelemetryCost measures the same four kinds of instrumentation
// as BenchmarkCounterStepTelemetry, but interleaved: each iteration runs a
// batch of 200 counter steps on each server in turn, so that a busy
// machine slows them all alike. It reports, per kind, the median and the
// fastest batch's time per step (ns/step), and each kind's median over
// off's: on a machine shared with other work, the ratios and the minimums
// are what to read. Run it with a fixed count of rounds:
//
//	go test -run '^$' -bench TelemetryCost -benchtime 400x .
func BenchmarkTelemetryCost(b *testing.B) {
	const batch = 200
	meters := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer meters.Shutdown(context.Background())
	tracer := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	defer tracer.Shutdown(context.Background())
	kinds := []struct {
		name string
		tel  continuity.Telemetry
	}{
		{"off", continuity.Telemetry{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider()}},
		{"api", continuity.Telemetry{}},
		{"sdkmetrics", continuity.Telemetry{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: meters}},
		{"sdk", continuity.Telemetry{TracerProvider: tracer, MeterProvider: meters}},
	}
	steps := make([]func(), len(kinds))
	for i, k := range kinds {
		srv, err := continuity.New(counterPage, &continuity.Options{Logger: quietLogger(), Telemetry: k.tel})
		if err != nil {
			b.Fatal(err)
		}
		defer srv.Shutdown(context.Background())
		cookie := sessionCookieFor(b, srv)
		w := &discardWriter{h: make(http.Header)}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.AddCookie(cookie)
		steps[i] = func() {
			w.reset()
			srv.ServeHTTP(w, req.Clone(req.Context()))
		}
	}
	perStep := make([][]float64, len(kinds))
	round := 0
	for b.Loop() {
		for j := range kinds {
			i := (round + j) % len(kinds) // each kind leads in turn
			start := time.Now()
			for range batch {
				steps[i]()
			}
			perStep[i] = append(perStep[i], float64(time.Since(start).Nanoseconds())/batch)
		}
		round++
	}
	b.StopTimer()
	median := make([]float64, len(kinds))
	for i, k := range kinds {
		slices.Sort(perStep[i])
		median[i] = perStep[i][len(perStep[i])/2]
		b.ReportMetric(median[i], k.name+"-ns/step")
		b.ReportMetric(perStep[i][0], k.name+"-min-ns/step")
		if i > 0 {
			b.ReportMetric(median[i]/median[0], k.name+"/off")
		}
	}
	b.ReportMetric(0, "ns/op") // an iteration is a round of every kind: not a figure to read
}
