package demo

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startAdmin runs Run with args (which give -admin) and returns the admin
// URL and the application's URL that it printed, in that order, and a
// function that stops it and returns its error.
func startAdmin(t *testing.T, args []string, build Build) (adminURL, appURL string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := make(lines, 2)
	done := make(chan error, 1)
	go func() { done <- Run(ctx, "demo", args, out, io.Discard, build) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(ShutdownTimeout + 5*time.Second):
			t.Fatal("Run did not return after its context was cancelled")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	var got []string
	for len(got) < 2 {
		select {
		case line := <-out:
			got = append(got, strings.TrimSuffix(line, "\n"))
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatalf("Run printed %q only", got)
		}
	}
	require.True(t, strings.HasPrefix(got[0], "admin on http://"), "printed %q", got[0])
	require.True(t, strings.HasPrefix(got[1], "listening on http://"), "printed %q", got[1])
	return strings.TrimPrefix(got[0], "admin on "), strings.TrimPrefix(got[1], "listening on "), stop
}

// scrape fetches url's /metrics and parses it with Prometheus's own text
// parser.
func scrape(t *testing.T, c *http.Client, adminURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := c.Get(adminURL + "metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	require.NoError(t, err, "%s", body)
	return families
}

// value is the value of the family's metric whose labels include want.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := families[name]
	require.NotNil(t, f, "no family %s", name)
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range want {
			ok = ok && labels[k] == v
		}
		if !ok {
			continue
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	t.Fatalf("%s has no metric labelled %v", name, want)
	return 0
}

// With -admin, an example serves /metrics through OpenTelemetry's
// Prometheus exporter, and the admin page beside it; the metrics move
// with the sessions.
func TestAdminServesMetricsAndPage(t *testing.T) {
	adminURL, appURL, stop := startAdmin(t, []string{"-addr", "127.0.0.1:0", "-admin", "127.0.0.1:0"}, App(hello))
	assert.Contains(t, adminURL, "127.0.0.1:")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	user := &http.Client{Transport: tr, Jar: jar}
	operator := &http.Client{Transport: tr}

	before := scrape(t, operator, adminURL)
	assert.Zero(t, value(t, before, "continuity_session_live", nil))
	for range 3 {
		code, _ := get(t, user, appURL)
		require.Equal(t, http.StatusOK, code)
	}

	families := scrape(t, operator, adminURL)
	assert.Equal(t, dto.MetricType_GAUGE, families["continuity_session_live"].GetType())
	assert.EqualValues(t, 1, value(t, families, "continuity_session_live", nil))
	assert.EqualValues(t, 1, value(t, families, "continuity_session_created_total", nil))
	assert.EqualValues(t, 3, value(t, families, "continuity_requests_total", map[string]string{"continuity_outcome": "served"}))
	assert.EqualValues(t, 3, value(t, families, "continuity_step_duration_seconds", nil))
	assert.EqualValues(t, 3, value(t, families, "http_server_request_duration_seconds", map[string]string{"http_response_status_code": "200", "http_request_method": "GET"}))
	assert.Contains(t, families, "go_goroutines", "the Go runtime's collector")

	code, body := get(t, operator, adminURL)
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `<table id="sessions">`)
	assert.Equal(t, 1, strings.Count(body, `<tr class="session">`))

	code, body = get(t, operator, adminURL+"sessions.json")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, `"sessions"`)

	require.NoError(t, stop())
	_, err = operator.Get(adminURL)
	assert.Error(t, err, "the admin pages stop with the server")
}

func TestAdminAddr(t *testing.T) {
	for in, want := range map[string]string{
		"9090":           "127.0.0.1:9090",
		":9090":          "127.0.0.1:9090",
		"127.0.0.1:0":    "127.0.0.1:0",
		"localhost:9090": "localhost:9090",
		"[::1]:9090":     "[::1]:9090",
		"0.0.0.0:9090":   "0.0.0.0:9090",
	} {
		got, err := adminAddr(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "abc", "127.0.0.1", "127.0.0.1:99999", "host:port"} {
		_, err := adminAddr(in)
		assert.Error(t, err, "%q", in)
	}
	_, err := parse("demo", []string{"-admin", "nope"}, io.Discard)
	assert.ErrorIs(t, err, errUsage)
	c, err := parse("demo", []string{"-admin", "9999"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:9999", c.Admin)
}

// Off the loopback address, -admin warns.
func TestAdminWarnsOffLoopback(t *testing.T) {
	var stderr bytes.Buffer
	a, err := newAdmin("0.0.0.0:0", &stderr)
	require.NoError(t, err)
	require.NoError(t, a.shutdown(context.Background()))
	assert.Contains(t, stderr.String(), "warning: admin pages on")
}
