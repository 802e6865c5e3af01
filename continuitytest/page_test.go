package continuitytest

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func parsed(t *testing.T, pageURL, body string) *Page {
	t.Helper()
	u, err := url.Parse(pageURL)
	require.NoError(t, err)
	p := &Page{URL: u, Body: body, t: t}
	p.parse()
	return p
}

func TestParseFormsAsABrowserSubmitsThem(t *testing.T) {
	p := parsed(t, "http://h/dir/page?q=1", `<!doctype html><title>T</title>
<form id="f" method="POST" action="go#top">
  <input type="hidden" name="k" value="tok">
  <input name="text" value="a b">
  <input name="off" value="x" disabled>
  <fieldset disabled><input name="inset" value="y"></fieldset>
  <input type="checkbox" name="c" value="1" checked><input type="checkbox" name="c" value="2"><input type="checkbox" name="plain">
  <input type="radio" name="r" value="x"><input type="radio" name="r" value="y" checked>
  <select name="m" multiple><option value="1" selected>one<option selected>two<option disabled selected>three</select>
  <select name="s"><option disabled>none<option>first<option>second</select>
  <textarea name="ta">
line</textarea>
  <input type="submit" value="Save">
  <button type="button">not a submit</button>
  <button name="act" value="del" formaction="/delete" formmethod="get">Delete <b>it</b></button>
  <input type="image" name="img"><input type="reset">
</form>
<input form="f" name="outside" value="o">
<form><input name="q"></form>
<a href="../up">Up <img alt="arrow"></a> <a href="#frag">Frag</a> <a name="anchor">no href</a>
<script>var hidden = 1</script>`)
	require.Len(t, p.Forms, 2)
	f := p.Form("f")
	assert.Equal(t, http.MethodPost, f.Method)
	assert.Equal(t, "http://h/dir/go#top", f.Action.String())
	assert.Equal(t, url.Values{
		"k": {"tok"}, "text": {"a b"}, "c": {"1"}, "r": {"y"}, "m": {"1", "two"},
		"s": {"first"}, "ta": {"line"}, "outside": {"o"},
	}, f.Values())
	require.Len(t, f.Buttons, 2)
	assert.Equal(t, "Save", f.Buttons[0].Text)
	assert.Equal(t, "Delete it", f.Buttons[1].Text)
	assert.Equal(t, "http://h/delete", f.Buttons[1].Action.String())
	assert.Equal(t, http.MethodGet, f.Buttons[1].Method)

	assert.Equal(t, "http://h/dir/page?q=1", p.Forms[1].Action.String(), "no action: the page's URL")
	assert.Equal(t, http.MethodGet, p.Forms[1].Method)

	require.Len(t, p.Links, 2)
	assert.Equal(t, "Up arrow", p.Links[0].Text)
	assert.Equal(t, "http://h/up", p.Links[0].URL.String())
	assert.Equal(t, "http://h/dir/page?q=1#frag", p.Links[1].URL.String())
	assert.Equal(t, "not a submit Delete it Up arrow Frag no href", p.Text(), "no title, script or form values")

	fields, err := f.fill(map[string]string{"text": "é&=", "c": "2", "plain": "on", "m": "", "r": ""})
	require.NoError(t, err)
	sub, err := f.submission(fields, &f.Buttons[0])
	require.NoError(t, err)
	assert.Equal(t, http.MethodPost, sub.method)
	assert.Equal(t, "http://h/dir/go", sub.url.String())
	assert.Equal(t, "application/x-www-form-urlencoded", sub.contentType)
	assert.Equal(t, "k=tok&text=%C3%A9%26%3D&c=2&plain=on&s=first&ta=line&outside=o", sub.body,
		"document order, unchecked boxes left out, no pair for a button without a name")

	sub, err = f.submission(f.Fields, &f.Buttons[1])
	require.NoError(t, err)
	assert.Equal(t, http.MethodGet, sub.method, "formmethod overrides")
	assert.Equal(t, "/delete", sub.url.Path, "formaction overrides")
	assert.Equal(t, "k=tok&text=a+b&c=1&r=y&m=1&m=two&s=first&ta=line&act=del&outside=o", sub.url.RawQuery,
		"the button's pair where it stands; a form-owned control after the form's own")
}

func TestBaseHrefAndEnctype(t *testing.T) {
	p := parsed(t, "http://h/a/b", `<base href="/root/"><a href="x">x</a><form method="post" enctype="multipart/form-data"><input name="f"></form>`)
	assert.Equal(t, "http://h/root/x", p.Links[0].URL.String())
	_, err := p.Forms[0].submission(p.Forms[0].Fields, nil)
	assert.ErrorContains(t, err, `enctype "multipart/form-data" is not supported`)
}

func TestIsHTML(t *testing.T) {
	assert.True(t, isHTML("text/html; charset=utf-8"))
	assert.True(t, isHTML("application/xhtml+xml"))
	assert.False(t, isHTML("text/plain"))
	assert.False(t, isHTML(""))
}
