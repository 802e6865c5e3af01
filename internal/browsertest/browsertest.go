// Package browsertest starts headless Chromium for tests that drive a real
// browser with chromedp.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of a Chromium or Chrome binary: $CHROMIUM, or
// the first of chromium, chromium-browser, google-chrome in PATH. Without
// one the test is skipped, except in CI (CI set), where .ci/run installs
// Debian's chromium and its absence is a failure. With -short the test is
// skipped as well.
func Chromium(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a browser")
	}
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium in PATH; .ci/run installs Debian's chromium package")
	}
	t.Skip("no chromium in PATH (set CHROMIUM, or apt-get install chromium)")
	return ""
}

// Start starts headless Chromium, with a fresh profile, for the rest of
// the test, and returns the browser's context: run actions in it, or open
// separate windows with [Window]. It skips the test as [Chromium] does.
func Start(t testing.TB) context.Context {
	t.Helper()
	path := Chromium(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser, which lives as long as the
	// context of that call: it must have no timeout.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// Window opens a window in a browser context of its own: its cookies and
// storage are its own, as if it were another browser (another user). It
// closes when the test ends.
func Window(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("opening a window: %v", err)
	}
	return ctx
}
