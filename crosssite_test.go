package continuity_test

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// hello is the hello example's flow: it asks for a name until it gets one,
// then greets it.
func hello(r *continuity.Request) {
	for {
		name := ""
		for name == "" {
			r.Print(`<form method="post"><input name="name"></form>`)
			name = r.Next().Param("name")
		}
		r.Printf("Hello, %s!", html.EscapeString(name))
		r.Next()
	}
}

// fetch sends one request from the browser c with the given extra headers
// and returns the status and body.
func fetch(t *testing.T, c *http.Client, method, u string, body url.Values, hdr map[string]string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// TestCrossSiteGetDoesNotDriveAFlow is issue 9 #5: a link on another site
// (a top-level navigation, which carries the SameSite=Lax cookie) must not
// feed its query to the victim's session.
func TestCrossSiteGetDoesNotDriveAFlow(t *testing.T) {
	_, ts := start(t, hello, &continuity.Options{Logger: quietLogger()})
	victim := browser(t)
	_, page := get(t, victim, ts.URL+"/")
	require.Contains(t, page, "<form")

	code, page := fetch(t, victim, http.MethodGet, ts.URL+"/?name=Mallory", nil,
		map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
	assert.Equal(t, http.StatusOK, code)
	assert.NotContains(t, page, "Mallory", "the other site's query never reaches the flow")
	assert.Contains(t, page, "<form", "the flow saw a plain GET and asks again")

	_, page = fetch(t, victim, http.MethodGet, ts.URL+"/?name=Alice", nil, map[string]string{"Sec-Fetch-Site": "same-origin"})
	assert.Equal(t, "Hello, Alice!", page, "the site's own links still carry input")
}

// TestWhichRequestsCountAsCrossSite checks the rule request by request, as
// http.CrossOriginProtection judges: Sec-Fetch-Site where the browser sends
// it, else Origin, else Referer; a request with none of them is the site's
// own (or not from a browser).
func TestWhichRequestsCountAsCrossSite(t *testing.T) {
	type seen struct{ method, query, uri, param string }
	got := make(chan seen, 1)
	app := func(r *continuity.Request) {
		for {
			got <- seen{r.Method(), r.URL().RawQuery, r.HTTP().RequestURI, r.Param("x")}
			r.Print("ok")
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")
	<-got
	for _, tc := range []struct {
		name    string
		hdr     map[string]string
		foreign bool
	}{
		{"Sec-Fetch-Site cross-site", map[string]string{"Sec-Fetch-Site": "cross-site"}, true},
		{"Sec-Fetch-Site same-site (a sibling subdomain)", map[string]string{"Sec-Fetch-Site": "same-site"}, true},
		{"Sec-Fetch-Site same-origin", map[string]string{"Sec-Fetch-Site": "same-origin"}, false},
		{"Sec-Fetch-Site none (typed, bookmark)", map[string]string{"Sec-Fetch-Site": "none"}, false},
		{"Sec-Fetch-Site wins over Referer", map[string]string{"Sec-Fetch-Site": "same-origin", "Referer": "https://evil.example/"}, false},
		{"no headers (not a browser, or an old one on the site itself)", nil, false},
		{"foreign Origin", map[string]string{"Origin": "https://evil.example"}, true},
		{"opaque Origin", map[string]string{"Origin": "null"}, true},
		{"own Origin", map[string]string{"Origin": ts.URL}, false},
		{"foreign Referer", map[string]string{"Referer": "https://evil.example/page?x=1"}, true},
		{"malformed Referer", map[string]string{"Referer": "http://[::1"}, true},
		{"own Referer", map[string]string{"Referer": ts.URL + "/other?y=2"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _ := fetch(t, c, http.MethodGet, ts.URL+"/step?x=1&_cb=tok", nil, tc.hdr)
			require.Equal(t, http.StatusOK, code)
			s := <-got
			if tc.foreign {
				assert.Equal(t, seen{"GET", "", "/step", ""}, s, "a plain GET of the path")
			} else {
				assert.Equal(t, seen{"GET", "x=1&_cb=tok", "/step?x=1&_cb=tok", "1"}, s)
			}
		})
	}
}

func TestCrossSiteCallbackLinkRunsNothing(t *testing.T) {
	app := func(r *continuity.Request) {
		n := 0
		for {
			r.Printf("%d %s", n, r.CallbackURL(func() { n++ }))
			r.Next()
			r.RunCallbacks()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	_, page := get(t, c, ts.URL+"/")
	tok := regexp.MustCompile(`_cb=([^&"\s]+)`).FindStringSubmatch(html.UnescapeString(page))
	require.NotNil(t, tok, page)

	_, page = fetch(t, c, http.MethodGet, ts.URL+"/?_cb="+tok[1], nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
	assert.True(t, strings.HasPrefix(page, "0 "), "a callback link followed from another site runs nothing: %q", page)
	tok = regexp.MustCompile(`_cb=([^&"\s]+)`).FindStringSubmatch(html.UnescapeString(page))
	require.NotNil(t, tok, page)
	_, page = get(t, c, ts.URL+"/?_cb="+tok[1])
	assert.True(t, strings.HasPrefix(page, "1 "), "the site's own link runs it: %q", page)
}

// TestCrossSitePostWithTheCheckOffStillFeedsNoInput: with the CSRF check
// turned off, a cross-site POST gets through, but as a plain GET.
func TestCrossSitePostWithTheCheckOffStillFeedsNoInput(t *testing.T) {
	_, ts := start(t, hello, &continuity.Options{InsecureSkipCrossOriginCheck: true, Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")
	code, page := fetch(t, c, http.MethodPost, ts.URL+"/", url.Values{"name": {"Mallory"}}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, http.StatusOK, code)
	assert.NotContains(t, page, "Mallory")
}

func TestInsecureAllowCrossSiteInput(t *testing.T) {
	_, ts := start(t, hello, &continuity.Options{InsecureAllowCrossSiteInput: true, Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")
	_, page := fetch(t, c, http.MethodGet, ts.URL+"/?name=Mallory", nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, "Hello, Mallory!", page, "the rule is off")
}

// TestCrossSiteKeepsTheQuerySession: in ByQuery mode the session token is
// identity, not input: a cross-site request keeps its session and loses the
// rest of its query.
func TestCrossSiteKeepsTheQuerySession(t *testing.T) {
	app := func(r *continuity.Request) {
		for i := 1; ; i++ {
			r.Printf("%d %s [%s]", i, r.SessionToken(), r.Param("x"))
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Mode: continuity.ByQuery, Logger: quietLogger()})
	_, body := get(t, http.DefaultClient, ts.URL+"/")
	var n int
	var tok string
	_, err := fmt.Sscan(body, &n, &tok)
	require.NoError(t, err)
	_, body = fetch(t, http.DefaultClient, http.MethodGet, ts.URL+"/?x=evil&sid="+url.QueryEscape(tok), nil,
		map[string]string{"Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, "2 "+tok+" []", body)
}

func TestPostParamReadsOnlyTheBody(t *testing.T) {
	type pair struct{ post, any string }
	got := make(chan pair, 1)
	app := func(r *continuity.Request) {
		for {
			got <- pair{r.PostParam("name"), r.Param("name")}
			r.Next()
		}
	}
	_, ts := start(t, app, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/?name=query")
	assert.Equal(t, pair{"", "query"}, <-got)
	fetch(t, c, http.MethodPost, ts.URL+"/?name=query", url.Values{"name": {"body"}}, nil)
	assert.Equal(t, pair{"body", "body"}, <-got)
}

func TestCookieSameSite(t *testing.T) {
	for _, tc := range []struct {
		set  http.SameSite
		want http.SameSite
	}{{0, http.SameSiteLaxMode}, {http.SameSiteLaxMode, http.SameSiteLaxMode}, {http.SameSiteStrictMode, http.SameSiteStrictMode}} {
		t.Run(fmt.Sprint(tc.set), func(t *testing.T) {
			_, ts := start(t, counter, &continuity.Options{CookieSameSite: tc.set, Logger: quietLogger()})
			resp, err := http.Get(ts.URL + "/")
			require.NoError(t, err)
			resp.Body.Close()
			c := sessionCookie(t, resp, "cid")
			require.NotNil(t, c)
			assert.Equal(t, tc.want, c.SameSite)
		})
	}
	for _, bad := range []http.SameSite{http.SameSiteNoneMode, http.SameSiteDefaultMode, 99} {
		_, err := continuity.New(counter, &continuity.Options{CookieSameSite: bad})
		assert.ErrorContains(t, err, "CookieSameSite", bad)
	}
}

func TestCrossSiteRequestsAreCounted(t *testing.T) {
	srv, ts := start(t, counter, &continuity.Options{Logger: quietLogger()})
	c := browser(t)
	get(t, c, ts.URL+"/")
	fetch(t, c, http.MethodGet, ts.URL+"/?a=1", nil, map[string]string{"Sec-Fetch-Site": "cross-site"})
	assert.EqualValues(t, 1, srv.Metrics().Requests["cross_site"])
}
