package continuity_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity"
)

// TestParkedStackFrames counts the frames on a parked session's stack:
// garbage collection walks every parked goroutine frame by frame on each
// cycle, so with many sessions parked each frame is a cost of creating
// sessions. The application here, like a user's, names the handle
// through the root package's alias (see exportInlineBodies).
func TestParkedStackFrames(t *testing.T) {
	app := func(r *continuity.Request) {
		for {
			r.WriteString("parked")
			r.Next()
		}
	}
	_, ts := start(t, app, nil)
	status, body := get(t, ts.Client(), ts.URL+"/")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "parked", body)

	var frames []string
	require.Eventually(t, func() bool {
		frames = parkedFrames()
		return frames != nil
	}, testTimeout, tick)
	// sync's two (runtime.Stack does not print gopark under them), the
	// session's wait, the application, the call of it, the run, and the
	// goroutine's entry; before the inlining, eleven.
	assert.LessOrEqual(t, len(frames), 7, "frames on a parked session's stack:\n%s", strings.Join(frames, "\n"))
	for _, f := range frames {
		assert.NotContains(t, f, "request.(*Request).Next(", "Request.Next is inlined into the application")
	}
}

// parkedFrames returns the functions of the real (not inlined) frames of
// the goroutine parked in the session's wait, or nil if there is none.
func parkedFrames() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if !strings.Contains(g, "handoff.(*Handle).wait(") || !strings.Contains(g, "sync.(*Cond).Wait(") {
			continue
		}
		var frames []string
		for _, line := range strings.Split(g, "\n")[1:] {
			if strings.HasPrefix(line, "\t") || strings.HasPrefix(line, "created by ") || line == "" {
				continue
			}
			if !strings.HasSuffix(line, "(...)") { // inlined frames print no arguments
				frames = append(frames, line)
			}
		}
		return frames
	}
	return nil
}

// TestInlineBodiesAreExported checks that exportInlineBodies calls every
// method of the aliased Request, Session and SSE types.
func TestInlineBodiesAreExported(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "inlinebodies.go", nil, 0)
	require.NoError(t, err)
	called := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if c, ok := n.(*ast.CallExpr); ok {
			if sel, ok := c.Fun.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok {
					called[id.Name+"."+sel.Sel.Name] = true
				}
			}
		}
		return true
	})
	for v, typ := range map[string]reflect.Type{"r": reflect.TypeFor[*continuity.Request](), "s": reflect.TypeFor[*continuity.Session](), "e": reflect.TypeFor[*continuity.SSE]()} {
		for m := range typ.Methods() {
			assert.True(t, called[v+"."+m.Name], "exportInlineBodies calls %s.%s", typ, m.Name)
		}
	}
}
