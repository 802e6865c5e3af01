package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTourIsCurrent fails while examples/tour/zz_examples.go is not what
// the examples make of it: after adding or changing an example, run
// go generate ./examples/tour.
func TestTourIsCurrent(t *testing.T) {
	want, err := generate("../..")
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join("../../tour", outputName))
	require.NoError(t, err)
	if string(got) != string(want) {
		t.Fatal("examples/tour/zz_examples.go is stale: run go generate ./examples/tour")
	}
}

// TestGenerate: two examples with the same top-level names, imports of
// one name for two packages, and an import named as a tour declaration
// come out as a package that type-checks with the tour's own file; fields
// and methods named as top-level names keep their names.
func TestGenerate(t *testing.T) {
	code, err := generate("testdata/ok")
	require.NoError(t, err)
	out := string(code)

	fset := token.NewFileSet()
	var files []*ast.File
	for name, src := range map[string]any{"zz_examples.go": code, "tour.go": nil} {
		f, err := parser.ParseFile(fset, filepath.Join("testdata/ok/tour", name), src, 0)
		require.NoError(t, err, "%s:\n%s", name, out)
		files = append(files, f)
	}
	imp, err := newImporter(fset, "testdata/ok", []string{"tour"})
	require.NoError(t, err)
	conf := types.Config{Importer: imp}
	_, err = conf.Check("tour", fset, files, nil)
	require.NoError(t, err, "the generated file:\n%s", out)

	for _, want := range []string{
		"type alpha_counter struct{ count int }",
		"var alpha_count = 3",
		"func (c *alpha_counter) page() int { return c.count + alpha_count }",
		"c := alpha_counter{count: alpha_count}",
		"alpha_strings.ToUpper",
		"app := alpha_flow\n\t\t\tdemoMain(demo.App(app))",
		"var beta_count = 4",
		"beta_rand.IntN(2)",
		`beta_rand "math/rand/v2"`,
		`alpha_strings "strings"`,
		`title: "Beta, the second"`,
		`about: "Shows what the directives do."`,
		`title: "Alpha"`,
		`about: "Shows the generator's renaming."`,
		`source: "// Command alpha shows the generator's renaming. It has no directives.\n" +`,
	} {
		assert.Contains(t, out, want)
	}
	_, decls, ok := strings.Cut(out, "\n// examples/alpha/main.go\n")
	require.True(t, ok, "the declarations follow the list")
	assert.NotContains(t, decls, "func main()")
	assert.NotContains(t, decls, "demo.Main")
}

// TestGenerateRefuses: what the tour cannot copy is refused with a reason.
func TestGenerateRefuses(t *testing.T) {
	cases := map[string]string{
		"twofiles":   "other.go: an example is one file, main.go",
		"nodemomain": "func main must end with its one call of demo.Main",
		"notlast":    "func main must end with its one call of demo.Main",
		"dotimport":  `import . "strings": the tour cannot copy dot imports`,
		"embed":      "go:embed: the tour cannot embed an example's files",
		"directive":  "//tour:titel Oops: unknown directive",
		"embedded":   "embedding base",
	}
	fset := token.NewFileSet()
	imp, err := newImporter(fset, "testdata/bad", slices.Collect(maps.Keys(cases)))
	require.NoError(t, err)
	for dir, want := range cases {
		_, err := load(fset, imp, "testdata/bad", dir)
		assert.ErrorContains(t, err, want, dir)
	}
}

func TestIdentPrefix(t *testing.T) {
	for dir, want := range map[string]string{
		"counter":    "counter_",
		"hello-path": "hello_path_",
		"2fa":        "x2fa_",
	} {
		assert.Equal(t, want, identPrefix(dir), dir)
	}
}
