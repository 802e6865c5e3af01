// Command shop is a small shop (what Perl Continuity's petstore.pl set
// out to be): a catalogue and a cart, then a checkout that asks for an
// address, shows the order to confirm, and places it. The whole flow is a
// loop in one function, with the cart in a local variable.
//
//	go run ./examples/shop [-addr localhost:8080 | -fcgi unix:PATH | -fcgi tcp:HOST:PORT] [-docroot DIR] [-idle 20m] [-max-sessions 10000]
//
// Every form carries its step's token (r.StepField()), and the flow runs
// with the Fork policy (r.SetStalePolicy):
//
//   - The back button works in the cart and the checkout: an older page's
//     form, sent, goes on from that page, with the cart and the address
//     that page showed. (Fork gives the tab a copy of the flow, replayed
//     to the page's step, and leaves the flow it came from where it was.)
//   - A second tab gets a copy of its own the first time it sends a form
//     the first tab has moved past, and from then on the two tabs shop
//     independently: each can place an order of its own.
//   - Placing the order is a point of no return (r.Barrier()): the pages
//     of that flow from before it get 409 "this can no longer be
//     changed", and a double click on "Place order" places one order.
//
// The price of Fork: a copy's order is the copy's barrier, not that of
// the flow it was copied from. A page from before the copy began (the
// back button, then a form, makes one) belongs to that flow, which has
// placed no order: its form makes another copy, as a second tab's would,
// which can place another order. Under the Rewind policy every older page
// would get 409, but a second tab would take the one flow back instead of
// shopping on its own.
//
// The order number comes from continuity.Once: a replay of the flow (to go
// back, or to fork) gets the recorded number, and the order book
// deduplicates on the idempotency key that Once hands it, so a repeated
// call places no second order.
//
//tour:title Shop
//tour:about A catalogue, a cart and a checkout where the back button and a second tab work, and an order is placed once.
package main

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"sync"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
)

// A product is what the catalogue sells; prices are in cents.
type product struct {
	ID, Name string
	Price    int
}

// catalogue is fixed: a replayed step must see what the first run saw, so
// a flow never reads data that others change except through Once.
var catalogue = []product{
	{"tea", "Green tea", 350},
	{"coffee", "Coffee beans", 1290},
	{"cocoa", "Cocoa", 480},
	{"honey", "Honey", 650},
}

// Bounds on what a shopper can make the server keep.
const (
	maxQuantity = 99    // of one product in a cart
	maxField    = 100   // characters of an address field
	maxOrders   = 10000 // orders the book keeps
)

// shop is the application: the cart, then the checkout, then the order,
// and over again. Going back, or forking, replays it: it reads only its
// input and the catalogue, and places the order through Once.
func (b *orderBook) shop(r *continuity.Request) {
	// First thing: it also starts the journal with the first page, so
	// that every step can be gone back to.
	r.SetStalePolicy(continuity.Fork)
	var addr address
	for {
		c := newCart()
		for {
			browse(r, c)
			addr = askAddress(r, c, addr)
			if confirm(r, c, addr) {
				break
			}
		}
		// The order is placed now: no page from before can change it.
		r.Barrier()
		id, err := continuity.Once(r, "order", func(_ context.Context, key string) (string, error) {
			return b.place(key, placed{Cart: slices.Clone(c), Address: addr})
		})
		v := view{Step: "placed", Order: id, Address: addr}
		if err != nil {
			v.Problem = "Sorry, the order could not be placed: " + err.Error()
		}
		show(r, v.withCart(c))
		r.Next() // "Shop again"
	}
}

// A cart holds a quantity per product, by the product's index in the
// catalogue.
type cart []int

func newCart() cart { return make(cart, len(catalogue)) }

func (c cart) empty() bool {
	for _, n := range c {
		if n > 0 {
			return false
		}
	}
	return true
}

// find returns the index of the product id, or -1.
func find(id string) int {
	for i, p := range catalogue {
		if p.ID == id {
			return i
		}
	}
	return -1
}

// browse shows the catalogue and the cart until the shopper checks out
// with something in the cart; it changes c.
func browse(r *continuity.Request, c cart) {
	for {
		show(r, view{Step: "cart"}.withCart(c))
		r.Next()
		if i := find(r.PostParam("add")); i >= 0 && c[i] < maxQuantity {
			c[i]++
		}
		if i := find(r.PostParam("remove")); i >= 0 && c[i] > 0 {
			c[i]--
		}
		if r.PostParam("checkout") != "" && !c.empty() {
			return
		}
	}
}

// An address is where an order goes.
type address struct{ Name, Street, City string }

// askAddress asks where to send the order until every field is filled in;
// last fills the form in.
func askAddress(r *continuity.Request, c cart, last address) address {
	v := view{Step: "address", Address: last}
	for {
		show(r, v.withCart(c))
		r.Next()
		a := address{
			Name:   strings.TrimSpace(r.PostParam("name")),
			Street: strings.TrimSpace(r.PostParam("street")),
			City:   strings.TrimSpace(r.PostParam("city")),
		}
		v.Address = a
		switch {
		case a.Name == "" || a.Street == "" || a.City == "":
			v.Problem = "Please fill in your name, street and city."
		case len(a.Name) > maxField || len(a.Street) > maxField || len(a.City) > maxField:
			v.Problem = fmt.Sprintf("Please keep each field to %d characters.", maxField)
		default:
			return a
		}
	}
}

// confirm shows the order and reports whether the shopper placed it;
// "Change" goes back to the cart.
func confirm(r *continuity.Request, c cart, a address) bool {
	for {
		show(r, view{Step: "confirm", Address: a}.withCart(c))
		r.Next()
		switch {
		case r.PostParam("place") != "":
			return true
		case r.PostParam("change") != "":
			return false
		}
	}
}

// The order book is shared by every session; it is the "service" that
// Once calls, and it deduplicates on the idempotency key.
type orderBook struct {
	mu     sync.Mutex
	byKey  map[string]string // idempotency key → order number
	orders []placed
}

// A placed order.
type placed struct {
	ID      string
	Cart    cart
	Address address
}

var errBookFull = errors.New("the shop takes no more orders today")

func newOrderBook() *orderBook { return &orderBook{byKey: make(map[string]string)} }

// place records the order o under key, or returns the number of the order
// already placed under key.
func (b *orderBook) place(key string, o placed) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id, ok := b.byKey[key]; ok {
		return id, nil
	}
	if len(b.orders) >= maxOrders {
		return "", errBookFull
	}
	o.ID = fmt.Sprintf("A%d", 1001+len(b.orders))
	b.orders = append(b.orders, o)
	b.byKey[key] = o.ID
	return o.ID, nil
}

// placedOrders returns a copy of the orders placed so far.
func (b *orderBook) placedOrders() []placed {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]placed(nil), b.orders...)
}

// view is what a page shows.
type view struct {
	Step     string // cart, address, confirm or placed
	Products []productView
	Lines    []line
	Total    string
	Address  address
	Problem  string
	Notice   string
	Order    string
	Token    template.HTML
}

type productView struct{ ID, Name, Price string }

// A line of the cart.
type line struct {
	ID, Name, Sum string
	Qty           int
}

func money(cents int) string { return fmt.Sprintf("$%d.%02d", cents/100, cents%100) }

// withCart fills in the catalogue and the cart's lines and total.
func (v view) withCart(c cart) view {
	total := 0
	for i, p := range catalogue {
		v.Products = append(v.Products, productView{p.ID, p.Name, money(p.Price)})
		if c[i] > 0 {
			v.Lines = append(v.Lines, line{ID: p.ID, Name: p.Name, Qty: c[i], Sum: money(c[i] * p.Price)})
			total += c[i] * p.Price
		}
	}
	v.Total = money(total)
	return v
}

// show writes the page of v.Step with the step's token in every form.
func show(r *continuity.Request, v view) {
	v.Token = r.StepField()
	if r.StaleReason() == continuity.StaleBack {
		v.Notice = "That page was out of date, so it was not used: here is where you are."
	}
	if err := pages.ExecuteTemplate(r, "page", v); err != nil && !errors.Is(err, continuity.ErrClientGone) {
		panic(err) // a bug in the template: continuity answers 500 and logs it
	}
}

// pages are the shop's pages. Forms post to an address of their own
// ("cart", "address", "order"), never to the first page's: a POST to an
// address makes the browser forget the page it keeps for it (RFC 9111,
// section 4.4), which the back button would then not find. The addresses
// are relative, so the shop works under a prefix too (the tour's /shop/).
var pages = template.Must(template.New("shop").Parse(`
{{define "page"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop</title>
<style>body{font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em}td{padding:.2em .6em}</style>
</head>
<body>
<h1>Shop</h1>
{{with .Notice}}<p id="notice">{{.}}</p>{{end}}
{{with .Problem}}<p id="problem">{{.}}</p>{{end}}
{{if eq .Step "cart"}}{{template "cart" .}}
{{else if eq .Step "address"}}{{template "address" .}}
{{else if eq .Step "confirm"}}{{template "confirm" .}}
{{else}}{{template "placed" .}}
{{end}}</body>
</html>
{{end}}

{{define "lines"}}<table id="cart">
{{range .Lines}}<tr id="line-{{.ID}}"><td class="qty">{{.Qty}}</td><td>{{.Name}}</td><td>{{.Sum}}</td></tr>
{{end}}<tr><td></td><td>Total</td><td id="total">{{.Total}}</td></tr>
</table>{{end}}

{{define "cart"}}<h2 id="step">Catalogue</h2>
<form method="post" action="cart">{{.Token}}
<table id="catalogue">
{{range .Products}}<tr><td>{{.Name}}</td><td>{{.Price}}</td><td><button type="submit" name="add" value="{{.ID}}">Add {{.Name}}</button></td></tr>
{{end}}</table>
<h2>Your cart</h2>
{{if .Lines}}{{template "lines" .}}
<p>{{range .Lines}}<button type="submit" name="remove" value="{{.ID}}">Remove one {{.Name}}</button> {{end}}</p>
<p><button type="submit" name="checkout" value="yes">Check out</button></p>
{{else}}<p id="empty">Your cart is empty.</p>
{{end}}</form>{{end}}

{{define "address"}}<h2 id="step">Where to?</h2>
{{template "lines" .}}
<form method="post" action="address">{{.Token}}
<p><label>Name: <input name="name" value="{{.Address.Name}}" maxlength="100" required></label></p>
<p><label>Street: <input name="street" value="{{.Address.Street}}" maxlength="100" required></label></p>
<p><label>City: <input name="city" value="{{.Address.City}}" maxlength="100" required></label></p>
<p><button type="submit">Continue</button></p>
</form>{{end}}

{{define "confirm"}}<h2 id="step">Your order</h2>
{{template "lines" .}}
<p id="address">To {{.Address.Name}}, {{.Address.Street}}, {{.Address.City}}</p>
<form method="post" action="order">{{.Token}}
<button type="submit" name="place" value="yes">Place order</button>
<button type="submit" name="change" value="yes">Change</button>
</form>{{end}}

{{define "placed"}}<h2 id="step">Thank you</h2>
{{with .Order}}<p>Order <span id="order">{{.}}</span> is placed.</p>{{end}}
{{template "lines" .}}
<p id="address">To {{.Address.Name}}, {{.Address.Street}}, {{.Address.City}}</p>
<form method="post" action="cart">{{.Token}}
<button type="submit" name="again" value="yes">Shop again</button>
</form>{{end}}
`))

func main() { demo.Main(demo.App(newOrderBook().shop)) }
