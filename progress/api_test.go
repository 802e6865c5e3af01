package progress

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/continuity-go/continuity/internal/handoff"
	"github.com/continuity-go/continuity/request"
)

// The package exports what an application or an operator needs, and
// nothing that only wires it into the server: every name here is one the
// project keeps.
func TestExportedNames(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	require.NoError(t, err)
	var files []*ast.File
	for _, f := range pkgs["progress"].Files {
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/continuity-go/continuity/progress")
	require.NoError(t, err)
	var got []string
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			got = append(got, v.Names...)
		}
	}
	values(p.Consts)
	values(p.Vars)
	for _, f := range p.Funcs {
		got = append(got, f.Name)
	}
	for _, ty := range p.Types {
		got = append(got, ty.Name)
		values(ty.Consts)
		values(ty.Vars)
		for _, f := range ty.Funcs {
			got = append(got, f.Name)
		}
		for _, m := range ty.Methods {
			got = append(got, ty.Name+"."+m.Name)
		}
	}
	slices.Sort(got)
	want := []string{
		// Applications: meters.
		"Start", "Run", "Running", "Option", "Total", "Count", "Messages", "InitialStatus",
		"Meter", "Meter.Name", "Meter.ID", "Meter.Inc", "Meter.Add", "Meter.Set", "Meter.SetTotal",
		"Meter.Message", "Meter.Status", "Meter.Done", "Meter.Snapshot", "Meter.Err",
		"IDParam", "MaxNameLen", "ValidName", "DefaultTotal",
		"ErrRunning", "ErrNotFound", "ErrBadName", "ErrTooMany", "ErrFull",
		// Operators: continuity.Options.Progress, and stores.
		"Options", "DefaultMaxWait", "DefaultKeepAlive", "DefaultMaxMessages", "DefaultMaxWatchers",
		"Store", "Snapshot",
		"MemoryStore", "MemoryOptions", "NewMemoryStore", "DefaultRetention", "DefaultMaxPerScope", "DefaultHistory",
		"DefaultMaxMeters", "DefaultMaxBytes",
		"MemoryStore.Create", "MemoryStore.Update", "MemoryStore.Get", "MemoryStore.Changes",
		"MemoryStore.DeleteScope", "MemoryStore.Len", "MemoryStore.Waiting",
		// The server's side: a continuity.Server makes, serves and shuts
		// down its Handler; the type also names the key under which it
		// shares the Handler with its sessions.
		"Handler", "New", "Handler.ServeStatus", "Handler.Shutdown",
		// Its telemetry and admin page count meters and watchers.
		"Handler.Meters", "Handler.Watchers",
	}
	slices.Sort(want)
	assert.Equal(t, want, got)
}

// A session finds the server's Handler among the values the server shares
// with its sessions, under the key (*Handler)(nil): no exported name is
// needed for the wiring.
func TestSessionFindsTheSharedHandler(t *testing.T) {
	h := New(Options{})
	sess := (*request.Session)(handoff.NewSession(t.Context(), handoff.Options{Shared: map[any]any{(*Handler)(nil): h}}))
	b := bind(sess, nil)
	assert.Same(t, h, b.h)
	assert.Same(t, b, bind(sess, nil), "a session binds once")

	// A session with nothing shared gets a Handler of its own.
	other := (*request.Session)(handoff.NewSession(t.Context(), handoff.Options{}))
	assert.NotSame(t, h, bind(other, nil).h)
}
