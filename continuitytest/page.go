package continuitytest

import (
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// A Page is a response as the browser shows it: the last response of a
// request's redirect chain, with its forms and links parsed when it is
// HTML.
type Page struct {
	// URL is the page's address: the last request's URL, fragment removed.
	URL *url.URL
	// Status is the response's status code.
	Status int
	// Header is the response's header.
	Header http.Header
	// Body is the whole response body.
	Body string
	// Forms are the page's forms, in document order (HTML pages only).
	Forms []*Form
	// Links are the page's links with an href, in document order (HTML
	// pages only).
	Links []*Link
	// Redirects are the redirects followed to reach the page, in order;
	// empty if the first response was the page.
	Redirects []Redirect

	t    TB
	text string
	req  *submission // the request that answered with this page, for Reload
}

// A Redirect is one redirect response that the browser followed.
type Redirect struct {
	// Method and URL are the request that was redirected.
	Method string
	URL    *url.URL
	// Status is the redirect's status code (301, 302, 303, 307 or 308).
	Status int
	// Location is where it pointed, resolved against URL.
	Location *url.URL
}

// A Link is an <a href> of a page.
type Link struct {
	// Text is the link's visible text, with runs of white space collapsed
	// to one space and trimmed; an image's alt text counts as text.
	Text string
	// URL is the href resolved against the page's URL.
	URL *url.URL
}

// A Form is a <form> of a page, with the values it would submit if the
// user changed nothing.
type Form struct {
	// Name and ID are the form's name and id attributes.
	Name, ID string
	// Method is GET or POST.
	Method string
	// Action is where it submits: its action resolved against the page's
	// URL (the page's URL itself when the form has none).
	Action *url.URL
	// Fields are the controls that can send a value, in document order:
	// inputs (not buttons, not disabled), textareas and selects.
	Fields []Field
	// Buttons are its submit buttons, in document order.
	Buttons []Button

	enctype string
}

// A Field is one control of a form.
type Field struct {
	// Name is the control's name.
	Name string
	// Type is the input's type ("text", "hidden", "checkbox", …),
	// "textarea", "select", or "select-multiple" for one option of a
	// multiple select.
	Type string
	// Value is what the control sends.
	Value string
	// Checked says whether a checkbox, a radio button or an option of a
	// multiple select is sent; other controls are always sent.
	Checked bool
	// Options are a select's option values.
	Options []string
}

// A Button is a submit button of a form: a <button> (of type submit) or an
// <input type=submit>.
type Button struct {
	// Text is its label: a button's text, or a submit input's value
	// ("Submit" if it has none).
	Text string
	// Name and Value are sent with the form when it is pressed, if Name
	// is not empty.
	Name, Value string
	// Action and Method override the form's, from the button's
	// formaction and formmethod attributes; nil and "" when absent.
	Action *url.URL
	Method string

	enctype string
	pos     int // how many of the form's fields precede it
}

// Text returns the page's visible text with runs of white space collapsed
// to one space (scripts and styles left out), or the body itself when the
// page is not HTML.
func (p *Page) Text() string { return p.text }

// Form returns the form whose name or id is name, or the first form when
// name is empty. It fails the test if there is none.
func (p *Page) Form(name string) *Form {
	p.t.Helper()
	for _, f := range p.Forms {
		if name == "" || f.Name == name || f.ID == name {
			return f
		}
	}
	if name == "" {
		p.t.Fatalf("continuitytest: %s has no form:\n%s", p.URL, p.Body)
	} else {
		p.t.Fatalf("continuitytest: %s has no form named %q (forms: %s):\n%s", p.URL, name, p.formNames(), p.Body)
	}
	return nil
}

// Link returns the first link whose text is text. It fails the test if
// there is none.
func (p *Page) Link(text string) *Link {
	p.t.Helper()
	for _, l := range p.Links {
		if l.Text == text {
			return l
		}
	}
	texts := make([]string, len(p.Links))
	for i, l := range p.Links {
		texts[i] = fmt.Sprintf("%q", l.Text)
	}
	p.t.Fatalf("continuitytest: %s has no link %q (links: %s):\n%s", p.URL, text, strings.Join(texts, ", "), p.Body)
	return nil
}

func (p *Page) formNames() string {
	var names []string
	for _, f := range p.Forms {
		names = append(names, fmt.Sprintf("name=%q id=%q", f.Name, f.ID))
	}
	return strings.Join(names, ", ")
}

// Value returns the value that the field name sends by default (the
// first, if several controls share the name), or "" if none does.
func (f *Form) Value(name string) string {
	for _, fd := range f.Fields {
		if fd.Name == name && fd.sent() {
			return fd.Value
		}
	}
	return ""
}

// Values returns what the form sends by default, without any button.
func (f *Form) Values() url.Values {
	v := url.Values{}
	for _, fd := range f.Fields {
		if fd.sent() {
			v.Add(fd.Name, fd.Value)
		}
	}
	return v
}

func (fd *Field) sent() bool {
	switch fd.Type {
	case "checkbox", "radio", "select-multiple":
		return fd.Checked
	}
	return true
}

// fill returns the form's fields with values set by name: a text-like
// control or select gets the value; among checkboxes, radios and the
// options of a multiple select of that name, the one whose value is the
// value gets checked and the others not ("" unchecks them all).
func (f *Form) fill(values map[string]string) ([]Field, error) {
	fields := slices.Clone(f.Fields)
	names := make([]string, 0, len(values))
	for n := range values {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		v := values[name]
		first := slices.IndexFunc(fields, func(fd Field) bool { return fd.Name == name })
		if first < 0 {
			have := make([]string, 0, len(fields))
			for _, fd := range fields {
				if !slices.Contains(have, fd.Name) {
					have = append(have, fd.Name)
				}
			}
			return nil, fmt.Errorf("the form has no field %q (fields: %s)", name, strings.Join(have, ", "))
		}
		switch typ := fields[first].Type; typ {
		case "checkbox", "radio", "select-multiple":
			found := false
			for i := range fields {
				if fields[i].Name == name && fields[i].Type == typ {
					fields[i].Checked = fields[i].Value == v
					found = found || fields[i].Checked
				}
			}
			if !found && v != "" {
				return nil, fmt.Errorf("the form has no %s %q with value %q", typ, name, v)
			}
		case "select":
			if !slices.Contains(fields[first].Options, v) {
				return nil, fmt.Errorf("select %q has no option %q (options: %q)", name, v, fields[first].Options)
			}
			fields[first].Value = v
		case "file":
			return nil, fmt.Errorf("field %q: file inputs are not supported", name)
		default:
			fields[first].Value = v
		}
	}
	return fields, nil
}

// submission builds the request that pressing button (nil: none) sends
// with fields, from a page at base.
func (f *Form) submission(fields []Field, button *Button) (*submission, error) {
	method, action, enctype := f.Method, f.Action, f.enctype
	if button != nil {
		if button.Method != "" {
			method = button.Method
		}
		if button.Action != nil {
			action = button.Action
		}
		if button.enctype != "" {
			enctype = button.enctype
		}
	}
	if method == http.MethodPost && enctype != "" && enctype != "application/x-www-form-urlencoded" {
		return nil, fmt.Errorf("the form's enctype %q is not supported (only application/x-www-form-urlencoded)", enctype)
	}
	var b strings.Builder
	add := func(name, value string) {
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(name))
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(value))
	}
	for i, fd := range fields {
		if button != nil && button.pos == i && button.Name != "" {
			add(button.Name, button.Value)
		}
		if fd.sent() && fd.Type != "file" {
			add(fd.Name, fd.Value)
		}
	}
	if button != nil && button.pos >= len(fields) && button.Name != "" {
		add(button.Name, button.Value)
	}
	u := *action
	u.Fragment, u.RawFragment = "", ""
	s := &submission{method: method, url: &u}
	if method == http.MethodGet {
		u.RawQuery = b.String()
	} else {
		s.body = b.String()
		s.contentType = "application/x-www-form-urlencoded"
	}
	return s, nil
}

// defaultButton is the form's first submit button, which pressing Enter
// in the form presses; nil if it has none.
func (f *Form) defaultButton() *Button {
	if len(f.Buttons) == 0 {
		return nil
	}
	return &f.Buttons[0]
}

// isHTML reports whether a Content-Type is an HTML page.
func isHTML(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "text/html" || mt == "application/xhtml+xml")
}

// parse fills in p's forms, links and text from its HTML body.
func (p *Page) parse() {
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil { // html.Parse fails only on reader errors
		p.text = collapse(p.Body)
		return
	}
	pr := parser{page: p, base: p.URL, ids: map[string]*Form{}}
	if b := find(doc, atom.Base); b != nil {
		if href, ok := attr(b, "href"); ok {
			if u, err := p.URL.Parse(strings.TrimSpace(href)); err == nil {
				pr.base = u
			}
		}
	}
	pr.walk(doc, nil, false)
	for _, c := range pr.owned {
		if f := pr.ids[c.formID]; f != nil {
			pr.control(f, c.n, c.disabled)
		}
	}
	var text strings.Builder
	visibleText(&text, doc)
	p.text = collapse(text.String())
}

// parser walks a page's tree.
type parser struct {
	page  *Page
	base  *url.URL
	ids   map[string]*Form
	owned []ownedControl // controls with a form attribute, for after the walk
}

type ownedControl struct {
	n        *html.Node
	formID   string
	disabled bool
}

// walk visits n's subtree; form is the enclosing form, disabled whether
// an enclosing fieldset is disabled.
func (pr *parser) walk(n *html.Node, form *Form, disabled bool) {
	if n.Type == html.ElementNode {
		switch n.DataAtom {
		case atom.Form:
			form = pr.form(n)
		case atom.Fieldset:
			_, d := attr(n, "disabled")
			disabled = disabled || d
		case atom.A:
			if href, ok := attr(n, "href"); ok {
				if u, err := pr.base.Parse(strings.TrimSpace(href)); err == nil {
					var text strings.Builder
					visibleText(&text, n)
					pr.page.Links = append(pr.page.Links, &Link{Text: collapse(text.String()), URL: u})
				}
			}
		case atom.Input, atom.Button, atom.Select, atom.Textarea:
			if id, ok := attr(n, "form"); ok {
				pr.owned = append(pr.owned, ownedControl{n, id, disabled})
			} else if form != nil {
				pr.control(form, n, disabled)
			}
			if n.DataAtom != atom.Button {
				return // their children are options or text, not controls
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		pr.walk(c, form, disabled)
	}
}

func (pr *parser) form(n *html.Node) *Form {
	f := &Form{Method: http.MethodGet, Action: pr.page.URL}
	f.Name, _ = attr(n, "name")
	f.ID, _ = attr(n, "id")
	if m, _ := attr(n, "method"); strings.EqualFold(m, "post") {
		f.Method = http.MethodPost
	}
	if a, _ := attr(n, "action"); strings.TrimSpace(a) != "" {
		if u, err := pr.base.Parse(strings.TrimSpace(a)); err == nil {
			f.Action = u
		}
	}
	f.enctype, _ = attr(n, "enctype")
	f.enctype = strings.ToLower(f.enctype)
	pr.page.Forms = append(pr.page.Forms, f)
	if f.ID != "" && pr.ids[f.ID] == nil {
		pr.ids[f.ID] = f
	}
	return f
}

// control adds the control n to f.
func (pr *parser) control(f *Form, n *html.Node, fieldsetDisabled bool) {
	if _, d := attr(n, "disabled"); d || fieldsetDisabled {
		return
	}
	name, _ := attr(n, "name")
	switch n.DataAtom {
	case atom.Button:
		typ, _ := attr(n, "type")
		if typ = strings.ToLower(typ); typ != "" && typ != "submit" {
			return
		}
		var text strings.Builder
		visibleText(&text, n)
		value, _ := attr(n, "value")
		pr.button(f, n, Button{Text: collapse(text.String()), Name: name, Value: value})
	case atom.Textarea:
		if name == "" {
			return
		}
		var text strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.TextNode {
				text.WriteString(c.Data)
			}
		}
		f.Fields = append(f.Fields, Field{Name: name, Type: "textarea", Value: text.String()})
	case atom.Select:
		if name == "" {
			return
		}
		pr.selectField(f, n, name)
	case atom.Input:
		typ, _ := attr(n, "type")
		typ = strings.ToLower(strings.TrimSpace(typ))
		if typ == "" {
			typ = "text"
		}
		value, hasValue := attr(n, "value")
		switch typ {
		case "submit":
			text := value
			if !hasValue {
				text = "Submit"
			}
			pr.button(f, n, Button{Text: text, Name: name, Value: value})
			return
		case "image", "button", "reset":
			return
		}
		if name == "" {
			return
		}
		fd := Field{Name: name, Type: typ, Value: value}
		if typ == "checkbox" || typ == "radio" {
			if !hasValue {
				fd.Value = "on"
			}
			_, fd.Checked = attr(n, "checked")
		}
		f.Fields = append(f.Fields, fd)
	}
}

func (pr *parser) button(f *Form, n *html.Node, b Button) {
	if a, ok := attr(n, "formaction"); ok && strings.TrimSpace(a) != "" {
		if u, err := pr.base.Parse(strings.TrimSpace(a)); err == nil {
			b.Action = u
		}
	}
	if m, ok := attr(n, "formmethod"); ok {
		if strings.EqualFold(m, "post") {
			b.Method = http.MethodPost
		} else if strings.EqualFold(m, "get") {
			b.Method = http.MethodGet
		}
	}
	b.enctype, _ = attr(n, "formenctype")
	b.enctype = strings.ToLower(b.enctype)
	b.pos = len(f.Fields)
	f.Buttons = append(f.Buttons, b)
}

// selectField adds a select: one field with its selected option (the
// first enabled one if none is selected), or for a multiple select one
// field per option.
func (pr *parser) selectField(f *Form, n *html.Node, name string) {
	_, multiple := attr(n, "multiple")
	var opts []*html.Node
	var collect func(*html.Node)
	collect = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type == html.ElementNode && c.DataAtom == atom.Option {
				opts = append(opts, c)
			} else {
				collect(c)
			}
		}
	}
	collect(n)
	value := func(o *html.Node) string {
		if v, ok := attr(o, "value"); ok {
			return v
		}
		var text strings.Builder
		visibleText(&text, o)
		return collapse(text.String())
	}
	if multiple {
		for _, o := range opts {
			if _, d := attr(o, "disabled"); d {
				continue
			}
			_, sel := attr(o, "selected")
			f.Fields = append(f.Fields, Field{Name: name, Type: "select-multiple", Value: value(o), Checked: sel})
		}
		return
	}
	fd := Field{Name: name, Type: "select"}
	chosen := -1
	for i, o := range opts {
		fd.Options = append(fd.Options, value(o))
		if _, sel := attr(o, "selected"); sel {
			chosen = i
		}
	}
	if chosen < 0 {
		for i, o := range opts {
			if _, d := attr(o, "disabled"); !d {
				chosen = i
				break
			}
		}
	}
	if chosen < 0 {
		return // nothing to send
	}
	fd.Value = fd.Options[chosen]
	f.Fields = append(f.Fields, fd)
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func find(n *html.Node, a atom.Atom) *html.Node {
	if n.Type == html.ElementNode && n.DataAtom == a {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, a); f != nil {
			return f
		}
	}
	return nil
}

// visibleText writes n's text, leaving out scripts, styles, the head and
// the values of form controls, with an image's alt text in its place.
func visibleText(b *strings.Builder, n *html.Node) {
	switch n.Type {
	case html.TextNode:
		b.WriteString(n.Data)
		return
	case html.ElementNode:
		switch n.DataAtom {
		case atom.Script, atom.Style, atom.Head, atom.Template, atom.Noscript, atom.Select, atom.Textarea:
			return
		case atom.Img:
			if alt, ok := attr(n, "alt"); ok {
				b.WriteString(alt)
			}
			return
		}
	}
	block := n.Type == html.ElementNode && isBlock(n.DataAtom)
	if block {
		b.WriteByte(' ')
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		visibleText(b, c)
	}
	if block {
		b.WriteByte(' ')
	}
}

// isBlock reports whether a's text is set apart from its neighbours'.
func isBlock(a atom.Atom) bool {
	switch a {
	case atom.Address, atom.Article, atom.Aside, atom.Blockquote, atom.Br, atom.Button,
		atom.Caption, atom.Dd, atom.Div, atom.Dl, atom.Dt, atom.Fieldset, atom.Figcaption,
		atom.Figure, atom.Footer, atom.Form, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5,
		atom.H6, atom.Header, atom.Hr, atom.Input, atom.Label, atom.Legend, atom.Li, atom.Main,
		atom.Nav, atom.Ol, atom.Option, atom.P, atom.Pre, atom.Section, atom.Select,
		atom.Table, atom.Td, atom.Textarea, atom.Th, atom.Tr, atom.Ul:
		return true
	}
	return false
}

// collapse trims s and turns each run of white space into one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }
