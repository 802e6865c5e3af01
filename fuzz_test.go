package continuity_test

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// Fuzz targets (checklist G5). Each builds one server per target, shared by
// every input, and sends each input as one request through
// httptest.NewRecorder, so that the per-input work stays small. The seed
// corpora under testdata/fuzz/ run as ordinary tests; CI also fuzzes each
// target briefly (.ci/run).

// fuzzServer returns a server for app that is shut down when f ends.
func fuzzServer(f *testing.F, app func(*continuity.Request), opts *continuity.Options) *continuity.Server {
	f.Helper()
	opts.Logger = quietLogger()
	srv, err := continuity.New(app, opts)
	require.NoError(f, err)
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(f, srv.Shutdown(ctx))
	})
	return srv
}

// fuzzSession opens a session on srv and returns its cookie, "cid=VALUE".
func fuzzSession(f *testing.F, srv *continuity.Server) (header, value string) {
	f.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(f, http.StatusOK, rec.Code)
	c := fuzzCookie(rec, "cid")
	require.NotNil(f, c)
	// A second visit moves the session out of probation, so that the
	// stream of fresh sessions the fuzzer makes never evicts it.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Cookie", "cid="+c.Value)
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	require.Equal(f, http.StatusOK, rec.Code)
	require.Nil(f, fuzzCookie(rec, "cid"))
	return "cid=" + c.Value, c.Value
}

func fuzzCookie(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// FuzzSessionCookie sends an arbitrary Cookie header. The server never
// panics, always answers 200, and accepts a session only for the exact
// value it issued itself: for anything else it issues a fresh, different
// cookie and a new session (the counter starts at 1).
func FuzzSessionCookie(f *testing.F) {
	srv := fuzzServer(f, counter, &continuity.Options{MaxSessions: 64})
	header, issued := fuzzSession(f, srv)

	f.Add(header)
	f.Add("a=b; " + header)
	f.Add(header + "x")
	f.Add(header[:len(header)-1])
	f.Add("cid=" + strings.ToLower(issued))
	f.Add("cid=\"" + issued + "\"")
	f.Add("")
	f.Add("cid=")
	f.Add("cid=attacker")
	f.Add("cid=" + strings.Repeat("A", 5000))
	f.Add("cid=%00; cid=;;==")
	f.Add("cid=stale; " + header) // the valid one need not come first

	f.Fuzz(func(t *testing.T, cookie string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code)

		set := fuzzCookie(rec, "cid")
		var sent []string // every cid the client sent; the server tries each
		for _, c := range req.CookiesNamed("cid") {
			sent = append(sent, c.Value)
		}
		if set == nil {
			// Accepted: the client must have sent the value the server issued.
			require.Contains(t, sent, issued, "accepted a cookie the server never issued")
			require.NotEqual(t, "1", rec.Body.String(), "an existing session")
			return
		}
		require.NotContains(t, sent, issued, "refused the value the server issued")
		require.NotContains(t, sent, set.Value, "the server echoed the client's value")
		require.True(t, set.HttpOnly)
		require.Equal(t, "/", set.Path)
		require.Equal(t, "1", rec.Body.String(), "a fresh session")
	})
}

// FuzzStaticPath requests an arbitrary path from a server whose DocRoot
// lies inside a directory holding secrets. It never panics, never serves
// a secret's bytes, and answers only with a real file, the app's page,
// 400 or 404.
func FuzzStaticPath(f *testing.F) {
	const secret = "TOP-SECRET-7f3c"
	parent := f.TempDir()
	root := filepath.Join(parent, "www")
	files := map[string]string{
		"style.css":       "body{color:red}",
		"js/app.js":       "console.log(1)",
		"img/logo.svg":    "<svg></svg>",
		"favicon.ico":     "\x00\x00\x01\x00",
		"sub/dir/a.txt":   "plain text",
		"font.woff2":      "wOF2",
		"x.css.map":       "{}",
		"UPPER.CSS":       "upper",
		"sp ace.css":      "space",
		"pct%2e.css":      "percent",
		"back\\slash.css": "backslash",
	}
	secrets := []string{
		filepath.Join(parent, "secret.css"),
		filepath.Join(parent, "secret.txt"),
		filepath.Join(parent, "www2", "leak.css"), // a sibling sharing the prefix
		filepath.Join(root, ".env.css"),
		filepath.Join(root, ".git", "config.txt"),
		filepath.Join(root, "sub", ".hidden.js"),
	}
	for name, body := range files {
		p := filepath.Join(root, filepath.FromSlash(name))
		require.NoError(f, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(f, os.WriteFile(p, []byte(body), 0o644))
	}
	for _, p := range secrets {
		require.NoError(f, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(f, os.WriteFile(p, []byte(secret), 0o644))
	}
	require.NoError(f, os.Symlink(filepath.Join(parent, "secret.css"), filepath.Join(root, "link.css")))
	require.NoError(f, os.Symlink(parent, filepath.Join(root, "up")))
	require.NoError(f, os.MkdirAll(filepath.Join(root, "dir.css"), 0o755))

	const page = "APP-PAGE"
	app := func(r *continuity.Request) {
		for {
			r.Print(page)
			r.Next()
		}
	}
	srv := fuzzServer(f, app, &continuity.Options{DocRoot: root})
	cookie, _ := fuzzSession(f, srv) // one session answers every app page

	// The oracle's two answers that are not errors work as expected.
	for target, want := range map[string]string{"/style.css": files["style.css"], "/js/app.js": files["js/app.js"], "/x": page} {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		require.Equal(f, http.StatusOK, rec.Code, target)
		require.Equal(f, want, rec.Body.String(), target)
	}

	bodies := []string{page}
	for _, b := range files {
		bodies = append(bodies, b)
	}

	for _, s := range []string{
		"/style.css", "/js/app.js", "/../secret.css", "/%2e%2e/secret.css", "/..%2fsecret.css",
		"/..\\secret.css", "/..\\x", "/js/../../secret.txt", "/link.css", "/up/secret.css",
		"/.env.css", "/.git/config.txt", "/sub/.hidden.js", "/%2e/.env.css", "/dir.css",
		"/../www2/leak.css", "/%00.css", "//style.css", "/style.css/", "/STYLE.css", "",
	} {
		f.Add(s)
	}

	check := func(t *testing.T, req *http.Request) {
		t.Helper()
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		body := rec.Body.String()
		require.NotContains(t, body, secret, "path %q", req.URL.Path)
		switch rec.Code {
		case http.StatusOK:
			require.True(t, slices.Contains(bodies, body), "path %q served %.60q", req.URL.Path, body)
		case http.StatusBadRequest, http.StatusNotFound:
		default:
			t.Fatalf("path %q: status %d", req.URL.Path, rec.Code)
		}
	}

	f.Fuzz(func(t *testing.T, p string) {
		// As it arrives on the wire: a request target net/http would parse.
		target := p
		if !strings.HasPrefix(target, "/") {
			target = "/" + target
		}
		if u, err := url.ParseRequestURI(target); err == nil {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL, req.RequestURI = u, target
			check(t, req)
		}
		// As any decoded path a handler could see.
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL = &url.URL{Path: "/" + p}
		check(t, req)
	})
}

// FuzzParams sends an arbitrary raw query and body. The server never
// panics and answers 200 (the app saw the parameters), 400 (malformed, or
// too many fields) or 413 (body too large).
func FuzzParams(f *testing.F) {
	app := func(r *continuity.Request) {
		for {
			r.Print("ok ", html.EscapeString(r.Param("a")), len(r.Params("b")))
			r.Next()
		}
	}
	srv := fuzzServer(f, app, &continuity.Options{MaxBodyBytes: 4 << 10, MaxFormFields: 50})
	cookie, _ := fuzzSession(f, srv)

	f.Add("a=1&b=2", "a=3", uint8(0))
	f.Add("%zz", "", uint8(0))
	f.Add("a=1;b=2", "", uint8(0))
	f.Add("", "a=%", uint8(0))
	f.Add("", strings.Repeat("b=1&", 60), uint8(0))
	f.Add("", strings.Repeat("x", 5000), uint8(0))
	f.Add("", "--X\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--X--\r\n", uint8(1))
	f.Add("", "--X\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.txt\"\r\n\r\ndata\r\n--X--\r\n", uint8(1))
	f.Add("a=1", "--X\r\n\r\n", uint8(1))
	f.Add("", "anything", uint8(2))
	f.Add("", "--X--", uint8(3))

	ctypes := []string{
		"application/x-www-form-urlencoded",
		"multipart/form-data; boundary=X",
		"text/plain",
		"multipart/form-data",
		"",
	}
	f.Fuzz(func(t *testing.T, query, body string, ctype uint8) {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.URL.RawQuery = query
		if ct := ctypes[int(ctype)%len(ctypes)]; ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set("Cookie", cookie)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if req.MultipartForm != nil {
			req.MultipartForm.RemoveAll() // net/http's server would
		}
		switch rec.Code {
		case http.StatusOK:
			require.True(t, strings.HasPrefix(rec.Body.String(), "ok "), "%.60q", rec.Body.String())
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %.80q", rec.Code, rec.Body.String())
		}
	})
}
