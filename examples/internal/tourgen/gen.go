package main

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"go/ast"
	"go/doc"
	"go/format"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// demoPath is the package whose Main every example's main calls.
const demoPath = "github.com/continuity-go/continuity/examples/internal/demo"

// Names the generated file declares or uses in the tour package.
const (
	listName  = "generatedExamples" // the list of examples
	typeName  = "example"           // its element type, declared in tour.go
	mainType  = "mainFunc"          // the type of demo.Main, declared in tour.go
	mainParam = "demoMain"          // what each copied main calls instead of demo.Main
)

// skipDirs are the directories under examples/ that are not examples.
var skipDirs = []string{"tour", "internal", "testdata"}

// An example is what one examples/NAME/main.go gives the tour.
type example struct {
	name, title, about string
	prefix             string            // of its top-level names in the tour: "NAME_"
	imports            []importSpec      // what its declarations use
	decls              []string          // its top-level declarations but main, renamed
	main               string            // main's statements, renamed, calling demoMain
	source             []byte            // main.go as it is
	aliases            map[string]string // import path → local name in the tour, set by generate
}

type importSpec struct {
	path, name string // name: the local name in the example ("_" for a blank import)
	pkgName    string // the package's own name
}

// generate reads every example under root (the examples directory) and
// returns the tour's zz_examples.go. reserved are the package-level names
// of the tour's own files, which the generated imports must not take.
func generate(root string) ([]byte, error) {
	dirs, err := exampleDirs(root)
	if err != nil {
		return nil, err
	}
	reserved, err := tourNames(filepath.Join(root, "tour"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	imp, err := newImporter(fset, root, dirs)
	if err != nil {
		return nil, err
	}
	var exs []*example
	for _, dir := range dirs {
		ex, err := load(fset, imp, root, dir)
		if err != nil {
			return nil, fmt.Errorf("examples/%s: %w", dir, err)
		}
		exs = append(exs, ex)
	}
	return render(exs, reserved)
}

// exampleDirs lists the directories under root with a main.go, sorted.
func exampleDirs(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var dirs []string
	for _, e := range entries {
		n := e.Name()
		if !e.IsDir() || strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || slices.Contains(skipDirs, n) {
			continue
		}
		if _, err := os.Stat(filepath.Join(root, n, "main.go")); err == nil {
			dirs = append(dirs, n)
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no examples/*/main.go under %s", root)
	}
	return dirs, nil
}

// tourNames returns the package-level names declared in the tour's own
// files, tests included.
func tourNames(dir string) (map[string]bool, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool)
	for _, f := range files {
		if filepath.Base(f) == outputName {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					names[d.Name.Name] = true
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						names[s.Name.Name] = true
					case *ast.ValueSpec:
						for _, n := range s.Names {
							names[n.Name] = true
						}
					}
				}
			}
		}
	}
	return names, nil
}

// newImporter returns an importer of what the packages in root's dirs
// import, from the compiler's export data, which go list -export writes
// (the build cache makes that quick after the first time).
func newImporter(fset *token.FileSet, root string, dirs []string) (types.Importer, error) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return nil, err
	}
	args := []string{"list", "-e", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}
	for _, d := range dirs {
		args = append(args, "./"+d)
	}
	cmd := exec.Command(gobin, args...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w\n%s", err, stderr.Bytes())
	}
	exports := map[string]string{}
	for line := range strings.Lines(string(out)) {
		path, file, _ := strings.Cut(strings.TrimSpace(line), "\t")
		if file != "" {
			exports[path] = file
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s (does it build?)", path)
		}
		return os.Open(file)
	}), nil
}

// outputName is the generated file, in the tour's directory.
const outputName = "zz_examples.go"

// An edit replaces src[start:end] with text.
type edit struct {
	start, end int
	text       string
}

// load reads, type-checks and rewrites examples/dir/main.go.
func load(fset *token.FileSet, imp types.Importer, root, dir string) (*example, error) {
	gofiles, err := filepath.Glob(filepath.Join(root, dir, "*.go"))
	if err != nil {
		return nil, err
	}
	for _, f := range gofiles {
		if b := filepath.Base(f); b != "main.go" && !strings.HasSuffix(b, "_test.go") {
			return nil, fmt.Errorf("%s: an example is one file, main.go (the tour copies only that)", b)
		}
	}
	path := filepath.Join(root, dir, "main.go")
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parser.ParseFile(fset, path, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	if f.Name.Name != "main" {
		return nil, fmt.Errorf("main.go: package %s, want package main", f.Name.Name)
	}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: imp}
	pkg, err := conf.Check("examples/"+dir, fset, []*ast.File{f}, info)
	if err != nil {
		return nil, err
	}

	ex := &example{name: dir, prefix: identPrefix(dir), source: src}
	if err := ex.meta(f); err != nil {
		return nil, err
	}
	var mainDecl *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.Name == "main" {
			mainDecl = fd
		}
	}
	if mainDecl == nil {
		return nil, errors.New("main.go has no func main")
	}
	mainObj := info.Defs[mainDecl.Name]
	off := func(p token.Pos) int { return fset.Position(p).Offset }

	// demo.Main: called once, by main's last statement, which the tour
	// replaces with a call of its own.
	var edits []edit
	demoMains := map[*ast.Ident]bool{} // the demo in demo.Main
	ast.Inspect(f, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && sel.Sel.Name == "Main" {
			if x, ok := sel.X.(*ast.Ident); ok {
				if pn, ok := info.Uses[x].(*types.PkgName); ok && pn.Imported().Path() == demoPath {
					demoMains[x] = true
					edits = append(edits, edit{off(sel.Pos()), off(sel.End()), mainParam})
				}
			}
		}
		return true
	})
	body := mainDecl.Body.List
	last, _ := lastCall(body)
	if len(demoMains) != 1 || last == nil || !isDemoMain(last.Fun, demoMains) {
		return nil, errors.New("func main must end with its one call of demo.Main (the tour runs main's statements with demo.Main replaced)")
	}

	// Top-level names get the example's prefix, everywhere they are used;
	// imports are renamed where the tour needs another local name.
	imports := map[string]importSpec{}
	for id, obj := range info.Uses {
		switch obj := obj.(type) {
		case *types.PkgName:
			if demoMains[id] {
				continue
			}
			imports[obj.Imported().Path()] = importSpec{path: obj.Imported().Path(), name: obj.Name(), pkgName: obj.Imported().Name()}
			edits = append(edits, edit{off(id.Pos()), off(id.End()), "\x00" + obj.Imported().Path() + "\x01"})
		default:
			if obj == mainObj {
				return nil, fmt.Errorf("%s: main is used; the tour does not copy main", fset.Position(id.Pos()))
			}
			if topLevel(obj, pkg) {
				if v, ok := info.Defs[id].(*types.Var); ok && v.Embedded() {
					return nil, fmt.Errorf("%s: embedding %s: the tour renames top-level types, which would rename the field", fset.Position(id.Pos()), id.Name)
				}
				edits = append(edits, edit{off(id.Pos()), off(id.End()), ex.prefix + id.Name})
			}
		}
	}
	for id, obj := range info.Defs {
		if obj != nil && obj != mainObj && topLevel(obj, pkg) && id.Name != "_" {
			edits = append(edits, edit{off(id.Pos()), off(id.End()), ex.prefix + id.Name})
		}
	}
	for _, is := range f.Imports {
		p, _ := strconv.Unquote(is.Path.Value)
		switch {
		case is.Name != nil && is.Name.Name == ".":
			return nil, fmt.Errorf("import . %q: the tour cannot copy dot imports", p)
		case is.Name != nil && is.Name.Name == "_":
			imports["_"+p] = importSpec{path: p, name: "_"}
		}
	}
	for _, is := range imports {
		ex.imports = append(ex.imports, is)
	}
	slices.SortFunc(ex.imports, func(a, b importSpec) int { return cmp.Or(cmp.Compare(a.path, b.path), cmp.Compare(a.name, b.name)) })
	slices.SortFunc(edits, func(a, b edit) int { return cmp.Compare(a.start, b.start) })

	for _, d := range f.Decls {
		start := d.Pos()
		var docs *ast.CommentGroup
		switch d := d.(type) {
		case *ast.GenDecl:
			if d.Tok == token.IMPORT {
				continue
			}
			docs = d.Doc
		case *ast.FuncDecl:
			if d == mainDecl {
				continue
			}
			docs = d.Doc
		}
		if docs != nil {
			start = docs.Pos()
		}
		text := string(src[off(start):off(d.End())])
		if strings.Contains(text, "//go:embed") {
			return nil, fmt.Errorf("%s: go:embed: the tour cannot embed an example's files", fset.Position(d.Pos()))
		}
		ex.decls = append(ex.decls, apply(src, off(start), off(d.End()), edits))
	}
	ex.main = apply(src, off(mainDecl.Body.Lbrace)+1, off(mainDecl.Body.Rbrace), edits)
	return ex, nil
}

// lastCall returns the call of the last statement of body, if it is one.
func lastCall(body []ast.Stmt) (*ast.CallExpr, bool) {
	if len(body) == 0 {
		return nil, false
	}
	es, ok := body[len(body)-1].(*ast.ExprStmt)
	if !ok {
		return nil, false
	}
	call, ok := es.X.(*ast.CallExpr)
	return call, ok
}

func isDemoMain(fun ast.Expr, demoMains map[*ast.Ident]bool) bool {
	sel, ok := fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && demoMains[x]
}

// topLevel reports whether obj is declared at pkg's top level.
func topLevel(obj types.Object, pkg *types.Package) bool {
	return obj.Pkg() == pkg && obj.Parent() == pkg.Scope()
}

// apply returns src[start:end] with the edits that fall in it made.
// An import's name is a placeholder, "\x00PATH\x01", which fill replaces
// with the name the tour gives it.
func apply(src []byte, start, end int, edits []edit) string {
	var b strings.Builder
	at := start
	for _, e := range edits {
		if e.start < start || e.end > end {
			continue
		}
		b.Write(src[at:e.start])
		b.WriteString(e.text)
		at = e.end
	}
	b.Write(src[at:end])
	return b.String()
}

// identPrefix is the prefix of an example's top-level names in the tour.
func identPrefix(dir string) string {
	var b strings.Builder
	for _, r := range dir {
		if r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if r, _ := utf8.DecodeRuneInString(s); unicode.IsDigit(r) {
		s = "x" + s
	}
	return s + "_"
}

// meta reads the example's title and about line: the package doc
// comment's directives //tour:title TEXT and //tour:about TEXT, which
// godoc does not show. Without them the title is the directory's name,
// capitalised, and the about line the doc comment's first sentence,
// without its "Command NAME".
func (ex *example) meta(f *ast.File) error {
	if f.Doc != nil {
		for _, c := range f.Doc.List {
			rest, ok := strings.CutPrefix(c.Text, "//tour:")
			if !ok {
				continue
			}
			key, val, _ := strings.Cut(rest, " ")
			val = strings.TrimSpace(val)
			switch {
			case val == "":
				return fmt.Errorf("%s: empty", c.Text)
			case key == "title":
				ex.title = val
			case key == "about":
				ex.about = val
			default:
				return fmt.Errorf("%s: unknown directive; the tour knows //tour:title and //tour:about", c.Text)
			}
		}
	}
	if ex.title == "" {
		ex.title = capitalise(ex.name)
	}
	if ex.about == "" && f.Doc != nil {
		s := new(doc.Package).Synopsis(f.Doc.Text())
		s = strings.TrimPrefix(s, "Command "+ex.name+" ")
		ex.about = capitalise(s)
	}
	return nil
}

func capitalise(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// render writes the generated file.
func render(exs []*example, reserved map[string]bool) ([]byte, error) {
	// Each import keeps its name unless another example (or the tour)
	// has that name for something else; then it is prefixed too.
	taken := map[string]string{} // local name → import path
	type spec struct{ name, path string }
	var specs []spec
	seen := map[spec]bool{}
	for _, ex := range exs {
		ex.aliases = map[string]string{}
		for _, is := range ex.imports {
			name := is.name
			if name != "_" {
				if p, ok := taken[name]; reserved[name] || (ok && p != is.path) {
					name = ex.prefix + name
				}
				taken[name] = is.path
				ex.aliases[is.path] = name
			}
			s := spec{name, is.path}
			if name == is.pkgName {
				s.name = ""
			}
			if !seen[s] {
				seen[s] = true
				specs = append(specs, s)
			}
		}
	}
	slices.SortFunc(specs, func(a, b spec) int { return cmp.Or(cmp.Compare(a.path, b.path), cmp.Compare(a.name, b.name)) })

	var b bytes.Buffer
	b.WriteString("// Code generated by tourgen from examples/*/main.go; DO NOT EDIT.\n")
	b.WriteString("// After changing an example: go generate ./examples/tour\n\npackage main\n\nimport (\n")
	for _, s := range specs {
		fmt.Fprintf(&b, "\t%s %q\n", s.name, s.path)
	}
	b.WriteString(")\n\n")
	fmt.Fprintf(&b, "// %s holds every examples/NAME/main.go, by NAME: its title, its\n", listName)
	b.WriteString("// about line, its main's statements (calling demoMain where main calls\n")
	b.WriteString("// demo.Main), and its source. Its other declarations follow, each\n")
	b.WriteString("// top-level name prefixed with NAME_.\n")
	fmt.Fprintf(&b, "var %s = []%s{\n", listName, typeName)
	for _, ex := range exs {
		fmt.Fprintf(&b, "{\nname: %q,\ntitle: %q,\nabout: %q,\n", ex.name, ex.title, ex.about)
		fmt.Fprintf(&b, "main: func(%s %s) {%s},\n", mainParam, mainType, ex.fill(ex.main))
		b.WriteString("source: ")
		lines := strings.SplitAfter(string(ex.source), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		for i, l := range lines {
			if i > 0 {
				b.WriteString(" +\n")
			}
			b.WriteString(strconv.Quote(l))
		}
		b.WriteString(",\n},\n")
	}
	b.WriteString("}\n")
	for _, ex := range exs {
		fmt.Fprintf(&b, "\n// examples/%s/main.go\n", ex.name)
		for _, d := range ex.decls {
			b.WriteString("\n" + ex.fill(d) + "\n")
		}
	}
	out, err := format.Source(b.Bytes())
	if err != nil {
		return b.Bytes(), fmt.Errorf("formatting the generated file: %w", err)
	}
	return out, nil
}

// fill puts the tour's import names into s, a text that apply made.
func (ex *example) fill(s string) string {
	var b strings.Builder
	for {
		before, rest, ok := strings.Cut(s, "\x00")
		b.WriteString(before)
		if !ok {
			return b.String()
		}
		path, after, _ := strings.Cut(rest, "\x01")
		b.WriteString(ex.aliases[path])
		s = after
	}
}
