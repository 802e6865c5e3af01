package continuity_test

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// docroot lays out a DocRoot inside a parent that holds a secret the
// server must never serve.
func docroot(t *testing.T) string {
	t.Helper()
	parent := t.TempDir()
	root := filepath.Join(parent, "www")
	write := func(p, body string) {
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	write(filepath.Join(parent, "secret.css"), "SECRET")
	write(filepath.Join(parent, "passwd.txt"), "SECRET")
	write(filepath.Join(root, "style.css"), "body{color:red}")
	write(filepath.Join(root, "js", "app.js"), "console.log(1)")
	write(filepath.Join(root, "font.woff2"), "wOF2")
	write(filepath.Join(root, "favicon.ico"), "\x00\x00\x01\x00")
	write(filepath.Join(root, ".env"), "SECRET")
	write(filepath.Join(root, ".git", "config.txt"), "SECRET")
	write(filepath.Join(root, "sub", ".htpasswd.txt"), "SECRET")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "dir.css"), 0o755))
	require.NoError(t, os.Symlink(filepath.Join(parent, "secret.css"), filepath.Join(root, "link.css")))
	return root
}

func TestStaticFilesAreServedWithoutSessions(t *testing.T) {
	srv, ts := start(t, counter, &continuity.Options{DocRoot: docroot(t), Logger: quietLogger()})
	for _, tc := range []struct{ path, ctype, body string }{
		{"/style.css", "text/css; charset=utf-8", "body{color:red}"},
		{"/js/app.js", "text/javascript; charset=utf-8", "console.log(1)"},
		{"/font.woff2", "font/woff2", "wOF2"},
		{"/favicon.ico", "image/x-icon", "\x00\x00\x01\x00"},
		{"/style.css?v=2", "text/css; charset=utf-8", "body{color:red}"},
	} {
		resp, err := http.Get(ts.URL + tc.path)
		require.NoError(t, err)
		b := readAll(t, resp)
		assert.Equal(t, http.StatusOK, resp.StatusCode, tc.path)
		assert.Equal(t, tc.ctype, resp.Header.Get("Content-Type"), tc.path)
		assert.Equal(t, tc.body, b, tc.path)
		assert.Empty(t, resp.Header.Values("Set-Cookie"), tc.path)
	}
	assert.Zero(t, srv.Metrics().SessionsCreated, "static requests never create sessions")
}

func TestStaticConditionalAndRangeRequests(t *testing.T) {
	_, ts := start(t, counter, &continuity.Options{DocRoot: docroot(t), Logger: quietLogger()})
	resp, err := http.Get(ts.URL + "/style.css")
	require.NoError(t, err)
	readAll(t, resp)
	lm := resp.Header.Get("Last-Modified")
	require.NotEmpty(t, lm)

	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/style.css", nil)
	req.Header.Set("If-Modified-Since", lm)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	readAll(t, resp)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)

	req, _ = http.NewRequest(http.MethodGet, ts.URL+"/style.css", nil)
	req.Header.Set("Range", "bytes=0-3")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	assert.Equal(t, "body", readAll(t, resp))
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
}

func TestStaticNeverEscapesTheDocRoot(t *testing.T) {
	_, ts := start(t, counter, &continuity.Options{DocRoot: docroot(t), Logger: quietLogger()})
	for _, p := range []string{
		"/../secret.css",
		"/%2e%2e/secret.css",
		"/..%2fsecret.css",
		"/%2e%2e%2fsecret.css",
		"/%252e%252e/secret.css",
		"/js/../../secret.css",
		"/..\\secret.css",
		"/js/..%5c..%5csecret.css",
		"/../passwd.txt",
		"/link.css",
		"/.env.txt",
		"/.git/config.txt",
		"/sub/.htpasswd.txt",
		"/dir.css",
		"/missing.css",
		"/%00.css",
	} {
		// Send the path raw: the client must not clean it first.
		status, body := rawGet(t, ts.Listener.Addr().String(), p)
		assert.Contains(t, []int{400, 403, 404}, status, p)
		assert.NotContains(t, body, "SECRET", p)
	}
	// Not static-looking: it goes to the application, never to the file.
	_, body := rawGet(t, ts.Listener.Addr().String(), "/.env")
	assert.NotContains(t, body, "SECRET")
}

// TestStaticHiddenWhateverNameReachesIt: a symlink inside the DocRoot
// does not make a hidden file or directory visible, however it names it
// (directly, through a chain of links, through a linked directory, or with
// a relative target); links to visible files inside the root still work.
func TestStaticHiddenWhateverNameReachesIt(t *testing.T) {
	root := t.TempDir()
	write := func(p, body string) {
		t.Helper()
		p = filepath.Join(root, p)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	link := func(target, name string) {
		t.Helper()
		name = filepath.Join(root, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
		require.NoError(t, os.Symlink(target, name))
	}
	write(".secret.txt", "SECRET")
	write(".git/config", "SECRET")
	write(".hidden/app.js", "SECRET")
	write("pub/.env.txt", "SECRET")
	write("style.css", "body{}")
	write("js/app.js", "ok()")

	link(".secret.txt", "link.txt")                     // the reproduction
	link(".git", "gitdir")                              // ... and its directory case
	link("link.txt", "chain.txt")                       // a link to a link to a dotfile
	link("../.secret.txt", "sub/up.txt")                // a relative target
	link("./.hidden", "assets")                         // a directory under a hidden name
	link("pub", "public")                               // a visible directory ...
	link(filepath.Join(root, ".secret.txt"), "abs.txt") // an absolute target
	link("loop2.txt", "loop1.txt")
	link("loop1.txt", "loop2.txt")
	link("style.css", "alias.css") // visible targets stay served
	link("js", "lib")

	all := func(r *http.Request) bool { return r.URL.Path != "/" }
	_, ts := start(t, counter, &continuity.Options{DocRoot: root, Static: all, Logger: quietLogger()})
	addr := ts.Listener.Addr().String()
	for _, p := range []string{
		"/link.txt", "/gitdir/config", "/chain.txt", "/sub/up.txt", "/assets/app.js",
		"/public/.env.txt", "/abs.txt", "/loop1.txt",
	} {
		status, body := rawGet(t, addr, p)
		assert.Equal(t, http.StatusNotFound, status, p)
		assert.NotContains(t, body, "SECRET", p)
	}
	for p, want := range map[string]string{"/alias.css": "body{}", "/lib/app.js": "ok()", "/style.css": "body{}"} {
		status, body := rawGet(t, addr, p)
		assert.Equal(t, http.StatusOK, status, p)
		assert.Equal(t, want, body, p)
	}
}

func TestStaticWithoutDocRootIs404AndNeverReachesASession(t *testing.T) {
	srv, ts := start(t, counter, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")
	code, _ := get(t, c, ts.URL+"/favicon.ico")
	assert.Equal(t, http.StatusNotFound, code)
	_, body := get(t, c, ts.URL+"/")
	assert.Equal(t, "2", body, "the favicon request did not advance the flow")
	assert.EqualValues(t, 1, srv.Metrics().SessionsCreated)
}

func TestStaticServedAtTheSessionCap(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	app := func(r *continuity.Request) {
		entered <- struct{}{}
		<-release
		r.Next()
	}
	_, ts := start(t, app, &continuity.Options{DocRoot: docroot(t), MaxSessions: 1, Logger: quietLogger()})
	done := make(chan struct{})
	go func() { defer close(done); get(t, browser(t), ts.URL+"/") }()
	<-entered
	code, _ := get(t, http.DefaultClient, ts.URL+"/")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	code, _ = get(t, http.DefaultClient, ts.URL+"/style.css")
	assert.Equal(t, http.StatusOK, code)
	close(release)
	<-done
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// rawGet sends a request line exactly as given.
func rawGet(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufioReader(conn), nil)
	require.NoError(t, err)
	return resp.StatusCode, readAll(t, resp)
}
