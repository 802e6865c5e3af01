package main

import (
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/continuity-go/continuity"
	"github.com/continuity-go/continuity/examples/internal/demo"
	"github.com/continuity-go/continuity/examples/internal/webtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	srv, err := continuity.New(newKnowledge().play, demo.Config{}.Options())
	require.NoError(t, err)
	return webtest.Serve(t, srv, srv)
}

// player is one browser playing at ts.
type player struct {
	*webtest.Browser
	url string
}

func newPlayer(t *testing.T, ts *httptest.Server) player {
	p := player{webtest.NewBrowser(t, ts), ts.URL + "/"}
	p.Get(p.url)
	return p
}

func (p player) post(form url.Values) string { return p.Post(p.url, form) }
func (p player) start() string               { return p.post(url.Values{"start": {"1"}}) }
func (p player) answer(a string) string      { return p.post(url.Values{"answer": {a}}) }

func (p player) teach(animal, question, answer string) string {
	return p.post(url.Values{"animal": {animal}, "question": {question}, "answer": {answer}})
}

func question(t *testing.T, page string) string {
	t.Helper()
	return webtest.Find(t, page, `<p id="question">([^<]*)</p>`)
}

func note(t *testing.T, page string) string {
	t.Helper()
	return webtest.Find(t, page, `<p id="note">([^<]*)</p>`)
}

// One session teaches a new animal; a second session then knows it.
func TestASecondSessionKnowsWhatTheFirstTaught(t *testing.T) {
	ts := serve(t)
	a := newPlayer(t, ts)
	assert.Equal(t, "Does it live in water?", question(t, a.start()))
	assert.Equal(t, "Is it a dog?", question(t, a.answer("no")))
	page := a.answer("no")
	assert.Equal(t, "I give up.", note(t, page))
	assert.Contains(t, page, "Type a question that tells it from a dog")
	assert.Equal(t, "Thank you! Now I know a cat.", note(t, a.teach("a cat", "Does it purr?", "yes")))

	b := newPlayer(t, ts)
	b.start()
	assert.Equal(t, "Does it purr?", question(t, b.answer("no")))
	assert.Equal(t, "Is it a cat?", question(t, b.answer("yes")))
	assert.Equal(t, "I guessed it: a cat!", note(t, b.answer("yes")))
	// And the dog is still there.
	b.start()
	b.answer("no")
	assert.Equal(t, "Is it a dog?", question(t, b.answer("no")))
}

// Two players reach the same leaf; the second to teach finds it taught
// meanwhile, is asked the new question, and teaches one level down.
func TestTwoPlayersTeachTheSameLeaf(t *testing.T) {
	ts := serve(t)
	a, b := newPlayer(t, ts), newPlayer(t, ts)
	for _, p := range []player{a, b} {
		p.start()
		p.answer("no")
		p.answer("no") // not a dog
	}
	note(t, a.teach("a cat", "Does it purr?", "yes"))
	page := b.teach("a horse", "Does it neigh?", "yes")
	assert.Equal(t, "While you typed, another player taught me about this animal meanwhile. Let me ask again.", note(t, page))
	assert.Equal(t, "Does it purr?", question(t, page))
	assert.Equal(t, "Is it a dog?", question(t, b.answer("no")))
	b.answer("no")
	assert.Equal(t, "Thank you! Now I know a horse.", note(t, b.teach("a horse", "Does it neigh?", "yes")))

	c := newPlayer(t, ts)
	c.start()
	c.answer("no")
	c.answer("no")
	assert.Equal(t, "Is it a horse?", question(t, c.answer("yes")))
}

// Answers that make no sense ask again, with a reason; what players type
// is escaped.
func TestTeachingAsksAgainForBadInput(t *testing.T) {
	ts := serve(t)
	a := newPlayer(t, ts)
	a.start()
	a.answer("yes")
	a.answer("no") // not a fish
	for _, tc := range []struct{ animal, question, answer, want string }{
		{"", "Q?", "yes", "Please name the animal (at most 60 bytes)."},
		{string(make([]byte, 61)), "Q?", "yes", "Please name the animal (at most 60 bytes)."},
		{"A Fish", "Q?", "yes", "That is what I guessed! Which animal was it?"},
		{"a whale", " ", "yes", "Please type a question (at most 200 bytes)."},
		{"a whale", "Q?", "maybe", "Please say whether the answer is yes or no for your animal."},
	} {
		assert.Equal(t, tc.want, note(t, a.teach(tc.animal, tc.question, tc.answer)), "%+v", tc)
	}
	assert.Equal(t, "Thank you! Now I know &lt;b&gt;a whale&lt;/b&gt;.",
		note(t, a.teach("<b>a whale</b>", "Is it <i>huge</i>?", "yes")))
	a.start()
	assert.Equal(t, "Is it &lt;i&gt;huge&lt;/i&gt;?", question(t, a.answer("yes")))
	// A reload asks the same question again.
	assert.Equal(t, "Is it &lt;i&gt;huge&lt;/i&gt;?", question(t, a.Get(a.url)))
}

// Many sessions learning at once keep the tree whole (run with -race).
func TestLearningConcurrently(t *testing.T) {
	k := newKnowledge()
	var wg sync.WaitGroup
	var mu sync.Mutex
	learned := 0
	for i := range 20 {
		wg.Go(func() {
			for j := range 10 {
				n := k.root
				for {
					if _, leaf := k.look(n); leaf {
						break
					}
					n = k.child(n, (i+j)%2 == 0)
				}
				name := "animal " + strconv.Itoa(i*10+j)
				if k.learn(n, name, "Is it "+name+"?", j%2 == 0) == nil {
					mu.Lock()
					learned++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	leaves := 0
	var walk func(*node)
	walk = func(n *node) {
		if n.yes == nil {
			leaves++
			return
		}
		walk(n.yes)
		walk(n.no)
	}
	walk(k.root)
	assert.Equal(t, 2+learned, leaves)
	assert.Equal(t, leaves, k.animals)
	assert.Positive(t, learned)
}

func TestLearningStopsAtTheBound(t *testing.T) {
	k := newKnowledge()
	k.animals = maxAnimals
	assert.ErrorIs(t, k.learn(k.root.no, "a cat", "Does it purr?", true), errFull)
	assert.ErrorIs(t, k.learn(k.root, "a cat", "Does it purr?", true), errMoved)
	assert.Equal(t, "a dog", k.root.no.text)
}
