package handoff

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A session's context is made when first asked for (session.go); these
// tests keep it, made before or after the session ends, cancelled with the
// session's end reason, and keep a parked session that nobody asked for
// its context ending when it is closed.

// Made before or after the session ends, the context is cancelled with
// the session's end reason; the first reason stays.
func TestSessionContextIsCancelledWithTheReasonWheneverMade(t *testing.T) {
	early := NewSession(context.Background(), Options{App: func(*Handle) {}})
	ctx := early.Context()
	assert.Same(t, ctx, early.Context(), "one context per session")
	require.NoError(t, ctx.Err())
	early.Close(EndIdle)
	assert.ErrorIs(t, context.Cause(ctx), EndIdle)
	early.Close(EndEvicted) // the first reason stays
	assert.ErrorIs(t, context.Cause(ctx), EndIdle)

	late := NewSession(context.Background(), Options{App: func(*Handle) {}})
	late.Close(EndEvicted)
	late.Close(EndIdle)
	assert.True(t, late.Closed())
	assert.ErrorIs(t, context.Cause(late.Context()), EndEvicted, "the cause set before the context was made")
	assert.Same(t, late.Context(), late.Context())

	plain := NewSession(context.Background(), Options{App: func(*Handle) {}})
	plain.Close(nil)
	assert.ErrorIs(t, context.Cause(plain.Context()), context.Canceled)
}

// Goroutines that ask for the context while the session is closed all get
// the same context, cancelled with the one reason that won.
func TestSessionContextMadeWhileClosingIsOneAndCancelled(t *testing.T) {
	for range 50 {
		s := NewSession(context.Background(), Options{App: func(*Handle) {}})
		var wg sync.WaitGroup
		ctxs := make([]context.Context, 8)
		for i := range ctxs {
			wg.Go(func() { ctxs[i] = s.Context() })
		}
		wg.Go(func() { s.Close(EndIdle) })
		wg.Go(func() { s.Close(EndEvicted) })
		wg.Wait()
		cause := context.Cause(ctxs[0])
		require.True(t, errors.Is(cause, EndIdle) || errors.Is(cause, EndEvicted), "%v", cause)
		for _, ctx := range ctxs {
			assert.Same(t, ctxs[0], ctx)
		}
	}
}

// A session parked in Next whose context nobody asked for ends at Close,
// and what asks for the context first during the end (a cleanup, the
// SessionEnd hook) sees the reason; so does a session waiting for its
// predecessor to end.
func TestParkedSessionsEndAtCloseWithTheirReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reasons := make(chan error, 2)
		causes := make(chan error, 2)
		app := func(r *Handle) {
			fmt.Fprint(r, "hi")
			r.Cleanup(func() { causes <- context.Cause(r.Context()) })
			r.Next()
			t.Error("Next returned after Close")
		}
		onEnd := func(_ *Session, reason error) { reasons <- reason }
		s := NewSession(context.Background(), Options{App: app, OnEnd: onEnd})
		go s.Run()
		w, retry := serveOnce(s, getReq("/"))
		require.False(t, retry)
		assert.Equal(t, "hi", w.Body.String())
		synctest.Wait()
		assert.Nil(t, s.cx.Load(), "no context was made for the parked session")
		s.Close(EndIdle)
		synctest.Wait()
		assert.ErrorIs(t, <-reasons, EndIdle)
		assert.ErrorIs(t, <-causes, EndIdle)

		never := make(chan struct{})
		waiting := NewSession(context.Background(), Options{App: app, OnEnd: onEnd, Predecessor: never})
		go waiting.Run()
		synctest.Wait()
		waiting.Close(EndShutdown)
		synctest.Wait()
		assert.ErrorIs(t, <-reasons, EndShutdown)
	})
}

// A request that arrives while the session waits for its predecessor is
// taken once the predecessor has ended.
func TestRequestWaitingForThePredecessorIsTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pred := make(chan struct{})
		s := NewSession(context.Background(), Options{
			App:         func(r *Handle) { fmt.Fprint(r, "after"); r.Next() },
			Predecessor: pred,
		})
		done := make(chan struct{})
		go func() { defer close(done); s.Run() }()
		got := serveAsync(s, getReq("/"), Timeouts{})
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("served before the predecessor ended")
		default:
		}
		close(pred)
		res := recv(t, got)
		assert.False(t, res.retry)
		assert.Equal(t, "after", res.w.Body.String())
		s.Close(EndShutdown)
		<-done
	})
}

// A parent that is cancelled ends the session, even parked in Next, with
// the parent's cause; Closed reports it at once. A parent's values reach
// the session's context.
func TestParentCancellationEndsAParkedSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type key struct{}
		parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), key{}, "v"))
		reasons := make(chan error, 1)
		s := NewSession(parent, Options{
			App:   func(r *Handle) { r.Next() },
			OnEnd: func(_ *Session, reason error) { reasons <- reason },
		})
		assert.Equal(t, "v", s.Context().Value(key{}))
		go s.Run()
		go serveOnce(s, getReq("/"))
		synctest.Wait()
		cancel(EndShutdown)
		assert.True(t, s.Closed())
		synctest.Wait()
		assert.ErrorIs(t, <-reasons, EndShutdown)
		assert.ErrorIs(t, context.Cause(s.Context()), EndShutdown)
	})
}

// Each request in hand gets a RequestContext of its own, cancelled when
// the request is finished; one made for an earlier request does not leak
// into the next, and the session's end reaches the one in hand.
func TestRequestContextIsPerRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctxs := make(chan context.Context, 3)
		hold := make(chan struct{})
		s := NewSession(context.Background(), Options{App: func(r *Handle) {
			for {
				ctxs <- r.RequestContext()
				<-hold
				r.Next()
			}
		}})
		go s.Run()
		go serveOnce(s, getReq("/"))
		first := <-ctxs
		require.NoError(t, first.Err())
		hold <- struct{}{}
		synctest.Wait()
		assert.ErrorIs(t, first.Err(), context.Canceled, "finished with its request")
		assert.NoError(t, s.Context().Err())
		go serveOnce(s, getReq("/"))
		second := <-ctxs
		assert.NotSame(t, first, second)
		assert.NoError(t, second.Err(), "the request in hand's")
		s.Close(EndIdle)
		synctest.Wait()
		assert.ErrorIs(t, context.Cause(second), EndIdle)
		close(hold)
		synctest.Wait()
	})
}

// A parked session is mostly its Session (with its first run's Handle),
// its goroutine and its stack: keep the Session within the allocator's
// 320-byte size class, which the context made on demand, the rarely used
// part and the wait on a sync.Cond brought it down to (from 416).
func TestSessionKeepsItsSizeClass(t *testing.T) {
	assert.LessOrEqual(t, unsafe.Sizeof(Session{}), uintptr(320))
}
