package continuity_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestImportGraph keeps the packages layered: root → adapter, mapper,
// progress → request; the feature packages never import each other or the
// root. redistore, the Redis-backed stores, builds on progress, request
// and the journal only. The journal is a leaf (the standard library only,
// so that other stores can implement it). The session machinery under
// internal/handoff imports nothing of ours but the journal; request (the
// applications' view of it) and mapper (which runs
// sessions) build on it. Leaf helpers under internal/
// are named where they are allowed. continuitytest, the test browser,
// stands apart: it drives any http.Handler.
func TestImportGraph(t *testing.T) {
	const mod = "github.com/continuity-go/continuity"
	allowed := map[string][]string{
		"adapter":          {},
		"journal":          {},
		"internal/handoff": {"journal"},
		"request":          {"internal/handoff"},
		"mapper":           {},
		"internal/mapping": {"internal/handoff", "journal", "mapper"},
		"progress":         {"request", "internal/jsonstr"},
		"continuitytest":   {}, // drives any http.Handler; imports nothing of ours
		"redistore":        {"progress", "request", "journal"},

		// The benchmarks' baseline handler (bench_test.go, bench/counter).
		"internal/barecounter": {},
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		ok, layered := allowed[pkg]
		if !layered {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.HasPrefix(p, mod) {
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(p, mod), "/")
			assert.Contains(t, ok, dep, "%s imports %s", path, p)
		}
		return nil
	})
	require.NoError(t, err)
}
