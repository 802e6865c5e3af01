package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity/continuitytest"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve serves the shop as its main does, over a real socket, with book
// as its order book, and returns its address.
func serve(t *testing.T, book *orderBook) string {
	t.Helper()
	srv, err := demo.App(book.shop)(demo.Config{})
	require.NoError(t, err)
	return webtest.Serve(t, srv, srv).URL + "/"
}

// open is a new browser at the catalogue.
func open(t *testing.T, base string) *continuitytest.Browser {
	t.Helper()
	b := continuitytest.NewRemote(t, base, nil)
	require.Equal(t, "Catalogue", step(t, b.Get("/")))
	return b
}

var (
	stepRE    = regexp.MustCompile(`<h2 id="step">([^<]*)</h2>`)
	lineRE    = regexp.MustCompile(`<tr id="line-(\w+)"><td class="qty">(\d+)</td>`)
	addressRE = regexp.MustCompile(`<p id="address">To ([^<]*)</p>`)
	orderRE   = regexp.MustCompile(`<span id="order">([^<]*)</span>`)
)

// step is the heading that says which page p is.
func step(t *testing.T, p *continuitytest.Page) string {
	t.Helper()
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	m := stepRE.FindStringSubmatch(p.Body)
	require.NotNil(t, m, "no step heading in %s", p.Body)
	return m[1]
}

// cartOf is the cart a page shows: "tea:2 cocoa:1".
func cartOf(p *continuitytest.Page) string {
	var s []string
	for _, m := range lineRE.FindAllStringSubmatch(p.Body, -1) {
		s = append(s, m[1]+":"+m[2])
	}
	return strings.Join(s, " ")
}

func find1(re *regexp.Regexp, p *continuitytest.Page) string {
	if m := re.FindStringSubmatch(p.Body); m != nil {
		return m[1]
	}
	return ""
}

// cartString is the cart c as cartOf shows it.
func cartString(c cart) string {
	var s []string
	for i, n := range c {
		if n > 0 {
			s = append(s, catalogue[i].ID+":"+string(rune('0'+n)))
		}
	}
	return strings.Join(s, " ")
}

var (
	ann = map[string]string{"name": "Ann", "street": "1 High Street", "city": "Oxford"}
	bob = map[string]string{"name": "Bob", "street": "2 Low Road", "city": "Leeds"}
)

// TestShopCheckout: a straight way through: the cart, an address asked
// again until complete, the confirmation, the order placed.
func TestShopCheckout(t *testing.T) {
	book := newOrderBook()
	b := open(t, serve(t, book))
	assert.Contains(t, b.Page().Body, `<p id="empty">`)
	b.Press("Add Green tea", nil)
	b.Press("Add Green tea", nil)
	b.Press("Add Cocoa", nil)
	p := b.Press("Remove one Green tea", nil)
	require.Equal(t, "Catalogue", step(t, p))
	assert.Equal(t, "tea:1 cocoa:1", cartOf(p))
	assert.Equal(t, "$8.30", find1(regexp.MustCompile(`<td id="total">([^<]*)</td>`), p))

	p = b.Press("Check out", nil)
	require.Equal(t, "Where to?", step(t, p))
	p = b.Submit(map[string]string{"name": "Ann", "street": "", "city": "Oxford"})
	require.Equal(t, "Where to?", step(t, p))
	assert.Contains(t, p.Body, `<p id="problem">`)
	assert.Equal(t, "Ann", p.Form("").Value("name"), "what was typed is kept")
	p = b.Submit(ann)
	require.Equal(t, "Your order", step(t, p))
	assert.Equal(t, "Ann, 1 High Street, Oxford", find1(addressRE, p))

	p = b.Press("Place order", nil)
	require.Equal(t, "Thank you", step(t, p))
	assert.Equal(t, "A1001", find1(orderRE, p))
	assert.Equal(t, "tea:1 cocoa:1", cartOf(p))
	orders := book.placedOrders()
	require.Len(t, orders, 1)
	assert.Equal(t, "A1001", orders[0].ID)
	assert.Equal(t, "tea:1 cocoa:1", cartString(orders[0].Cart))
	assert.Equal(t, address{"Ann", "1 High Street", "Oxford"}, orders[0].Address)

	// And again, with an empty cart.
	p = b.Press("Shop again", nil)
	require.Equal(t, "Catalogue", step(t, p))
	assert.Empty(t, cartOf(p))
}

// TestShopBackAndForth: the back button in the cart and in the checkout:
// an older page's form goes on from that page, with what it showed.
func TestShopBackAndForth(t *testing.T) {
	book := newOrderBook()
	b := open(t, serve(t, book))
	b.Press("Add Green tea", nil)
	require.Equal(t, "tea:1 coffee:1", cartOf(b.Press("Add Coffee beans", nil)))

	// Back to the cart with tea only, and cocoa instead of the coffee.
	require.Equal(t, "tea:1", cartOf(b.Back()))
	p := b.Press("Add Cocoa", nil)
	require.Equal(t, "Catalogue", step(t, p))
	assert.Equal(t, "tea:1 cocoa:1", cartOf(p), "the coffee is gone with the page that had it")
	assert.NotContains(t, p.Body, `id="notice"`)

	// To the address, back to the cart, one more cocoa.
	require.Equal(t, "Where to?", step(t, b.Press("Check out", nil)))
	b.Back()
	p = b.Press("Add Cocoa", nil)
	assert.Equal(t, "tea:1 cocoa:2", cartOf(p))
	require.Equal(t, "Where to?", step(t, b.Press("Check out", nil)))

	// To the confirmation, back to the address, another address.
	p = b.Submit(ann)
	require.Equal(t, "Your order", step(t, p))
	assert.Equal(t, "Ann, 1 High Street, Oxford", find1(addressRE, p))
	require.Equal(t, "Where to?", step(t, b.Back()))
	p = b.Submit(bob)
	require.Equal(t, "Your order", step(t, p))
	assert.Equal(t, "Bob, 2 Low Road, Leeds", find1(addressRE, p))
	assert.Equal(t, "tea:1 cocoa:2", cartOf(p))

	// "Change" goes back to the cart too, with what it holds.
	p = b.Press("Change", nil)
	require.Equal(t, "Catalogue", step(t, p))
	assert.Equal(t, "tea:1 cocoa:2", cartOf(p))
	b.Press("Check out", nil)
	p = b.Submit(nil)
	require.Equal(t, "Your order", step(t, p), "the address form is filled in with the last one")
	assert.Equal(t, "Bob, 2 Low Road, Leeds", find1(addressRE, p))

	p = b.Press("Place order", nil)
	require.Equal(t, "Thank you", step(t, p))
	orders := book.placedOrders()
	require.Len(t, orders, 1, "one order")
	assert.Equal(t, "tea:1 cocoa:2", cartString(orders[0].Cart))
	assert.Equal(t, "Bob", orders[0].Address.Name)
}

// TestShopSecondTab: a second tab gets a copy of the flow the first time
// it sends a form the first tab has moved past; then each tab shops on
// its own, and each places an order of its own.
func TestShopSecondTab(t *testing.T) {
	book := newOrderBook()
	tab1 := open(t, serve(t, book))
	tab1.Press("Add Green tea", nil)

	tab2 := tab1.NewTab()
	p := tab2.Get("/")
	require.Equal(t, "Catalogue", step(t, p))
	require.Equal(t, "tea:1", cartOf(p), "the second tab shows where the session is")

	require.Equal(t, "tea:1 coffee:1", cartOf(tab1.Press("Add Coffee beans", nil)))
	p = tab2.Press("Add Honey", nil)
	assert.Equal(t, "tea:1 honey:1", cartOf(p), "the second tab's own cart")
	p = tab1.Press("Add Coffee beans", nil)
	assert.Equal(t, "tea:1 coffee:2", cartOf(p), "the first tab carries on with its own")
	p = tab2.Press("Remove one Green tea", nil)
	assert.Equal(t, "honey:1", cartOf(p))

	// Both check out, interleaved.
	tab1.Press("Check out", nil)
	tab2.Press("Check out", nil)
	tab1.Submit(ann)
	tab2.Submit(bob)
	p1 := tab1.Press("Place order", nil)
	p2 := tab2.Press("Place order", nil)
	require.Equal(t, "Thank you", step(t, p1))
	require.Equal(t, "Thank you", step(t, p2))
	assert.Equal(t, "tea:1 coffee:2", cartOf(p1))
	assert.Equal(t, "honey:1", cartOf(p2))
	assert.NotEqual(t, find1(orderRE, p1), find1(orderRE, p2))

	orders := book.placedOrders()
	require.Len(t, orders, 2)
	byName := map[string]string{}
	for _, o := range orders {
		byName[o.Address.Name] = cartString(o.Cart)
	}
	assert.Equal(t, map[string]string{"Ann": "tea:1 coffee:2", "Bob": "honey:1"}, byName)
}

// TestShopOrderPlacedOnce: after the order is placed, the flow's older
// pages get 409, with a link to the current page; a double click on
// "Place order", or that page sent again, places one order.
func TestShopOrderPlacedOnce(t *testing.T) {
	book := newOrderBook()
	b := open(t, serve(t, book))
	b.Press("Add Honey", nil)
	b.Press("Check out", nil)
	b.Submit(ann)
	first, second := b.DoubleSubmit(nil) // "Place order", its first button
	require.Equal(t, "Thank you", step(t, first))
	assert.Equal(t, first.Body, second.Body)
	id := find1(orderRE, second)
	require.NotEmpty(t, id)

	// The confirmation sent again is the same click: the same page.
	require.Equal(t, "Your order", step(t, b.Back()))
	p := b.Press("Place order", nil)
	require.Equal(t, "Thank you", step(t, p))
	assert.Equal(t, id, find1(orderRE, p))

	// backTo presses the back button until the page is the step want.
	backTo := func(want string) {
		t.Helper()
		for range 10 {
			if find1(stepRE, b.Back()) == want {
				return
			}
		}
		t.Fatalf("no %q page in the history", want)
	}
	for _, tc := range []struct {
		page string
		send func() *continuitytest.Page
	}{
		{"Your order", func() *continuitytest.Page { return b.Press("Change", nil) }},
		{"Where to?", func() *continuitytest.Page { return b.Submit(bob) }},
		{"Catalogue", func() *continuitytest.Page { return b.Press("Add Cocoa", nil) }},
	} {
		t.Run(tc.page, func(t *testing.T) {
			backTo(tc.page)
			p := tc.send()
			assert.Equal(t, http.StatusConflict, p.Status)
			assert.Contains(t, p.Text(), "This can no longer be changed")
			here := b.Click("Go to the page you are at")
			assert.Equal(t, "Thank you", step(t, here))
			assert.Equal(t, id, find1(orderRE, here))
		})
	}
	require.Len(t, book.placedOrders(), 1, "one order")
}

// TestShopPageFromBeforeACopy: the back button, then a form, makes a copy
// of the flow, and the order placed in the copy is its barrier, not the
// original flow's. So after the order, a page from before the copy began
// is the original flow's, which has placed no order: its form makes a
// copy of its own, as a second tab's would, which can place a second
// order. The copy's own pages from before its order get 409.
func TestShopPageFromBeforeACopy(t *testing.T) {
	book := newOrderBook()
	b := open(t, serve(t, book))
	b.Press("Add Green tea", nil)
	b.Press("Add Coffee beans", nil)
	b.Back()
	b.Press("Add Cocoa", nil) // the copy goes on from the page with tea only
	b.Press("Check out", nil)
	b.Submit(ann)
	require.Equal(t, "Thank you", step(t, b.Press("Place order", nil)))

	// backTo presses the back button until the page shows the cart c.
	backTo := func(c string) {
		t.Helper()
		for range 10 {
			if p := b.Back(); find1(stepRE, p) == "Catalogue" && cartOf(p) == c {
				return
			}
		}
		t.Fatalf("no catalogue with %q in the history", c)
	}
	backTo("tea:1 cocoa:1") // the copy's
	p := b.Press("Add Honey", nil)
	assert.Equal(t, http.StatusConflict, p.Status)

	backTo("tea:1") // the original flow's
	p = b.Press("Add Honey", nil)
	require.Equal(t, "Catalogue", step(t, p))
	assert.Equal(t, "tea:1 honey:1", cartOf(p))
	b.Press("Check out", nil)
	b.Submit(bob)
	require.Equal(t, "Thank you", step(t, b.Press("Place order", nil)))
	require.Len(t, book.placedOrders(), 2)
}
