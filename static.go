package continuity

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// IsStatic is the default static-file predicate: true when the URL path
// (not the query) ends in the extension of a stylesheet, script, image,
// font, icon, source map or text file. Such requests are served from the
// DocRoot and never reach a session, so a browser fetching /favicon.ico
// cannot advance anybody's flow.
func IsStatic(r *http.Request) bool {
	p := r.URL.Path
	i := strings.LastIndexByte(p, '.')
	if i < 0 || strings.IndexByte(p[i:], '/') >= 0 {
		return false
	}
	switch strings.ToLower(p[i+1:]) {
	case "css", "js", "mjs", "map", "txt",
		"png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp",
		"woff", "woff2", "ttf", "otf", "eot":
		return true
	}
	return false
}

// openDocRoot opens dir as an os.Root, which refuses any path (symlinks
// included) that would resolve outside it.
func openDocRoot(dir string) (*os.Root, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("continuity: DocRoot %q: %w", dir, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("continuity: DocRoot %q is not a directory", dir)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("continuity: DocRoot %q: %w", dir, err)
	}
	return root, nil
}

// serveStatic serves a file from the DocRoot with conditional and range
// support. Paths with a ".." element get 400; dotfiles, directories and
// anything outside the root get 404, whether the request names them or a
// symlink leads to them.
func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.root == nil {
		http.NotFound(w, r)
		return
	}
	if containsDotDot(r.URL.Path) {
		http.Error(w, "400 bad request: invalid path", http.StatusBadRequest)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" || hasDotSegment(name) || strings.ContainsRune(name, 0) {
		http.NotFound(w, r)
		return
	}
	// The type follows the name asked for, which the Static predicate
	// approved, not the link's target.
	real, err := resolve(s.root, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	f, err := s.root.Open(real)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	if ct := contentType(name); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, fi.Name(), fi.ModTime(), f)
}

// contentType covers the static extensions the standard library's
// built-in table lacks (it depends on /etc/mime.types for them otherwise).
func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".ico":
		return "image/x-icon"
	case ".woff":
		return "font/woff"
	case ".woff2":
		return "font/woff2"
	case ".ttf":
		return "font/ttf"
	case ".otf":
		return "font/otf"
	case ".eot":
		return "application/vnd.ms-fontobject"
	case ".map":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".bmp":
		return "image/bmp"
	}
	return mime.TypeByExtension(ext)
}

func containsDotDot(p string) bool {
	if !strings.Contains(p, "..") {
		return false
	}
	for _, seg := range strings.FieldsFunc(p, func(r rune) bool { return r == '/' || r == '\\' }) {
		if seg == ".." {
			return true
		}
	}
	return false
}

func hasDotSegment(name string) bool {
	for _, seg := range strings.Split(name, "/") {
		if strings.HasPrefix(seg, ".") {
			return true
		}
	}
	return false
}

// maxLinks bounds the symlinks resolve follows for one path, as the
// kernel's own limit (40 on Linux) does, so that a loop ends in 404.
const maxLinks = 40

var errHidden = errors.New("continuity: hidden or outside the DocRoot")

// resolve follows the symlinks in name, a clean slash-separated path
// inside root, and returns the path it leads to, with no symlink in it.
// It fails if any name met on the way, in the request or in a link's
// target, is hidden (starts with a dot), if a link leaves the root or is
// absolute (os.Root refuses those too), or if there are too many links.
// Checking each resolved component is what makes a dotfile hidden
// whatever name reaches it: "link.txt -> .secret.txt" or "gitdir -> .git"
// would otherwise pass a check of the request's own path.
func resolve(root *os.Root, name string) (string, error) {
	var done []string // resolved components: no links, none hidden
	todo := strings.Split(name, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch {
		case c == "" || c == ".":
			continue
		case c == "..":
			if len(done) == 0 {
				return "", errHidden
			}
			done = done[:len(done)-1]
			continue
		case strings.HasPrefix(c, "."):
			return "", errHidden
		}
		p := path.Join(append(done, c)...)
		fi, err := root.Lstat(p)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, c)
			continue
		}
		if links++; links > maxLinks {
			return "", errHidden
		}
		target, err := root.Readlink(p)
		if err != nil {
			return "", err
		}
		target = filepath.ToSlash(target)
		if path.IsAbs(target) || filepath.IsAbs(target) || filepath.VolumeName(target) != "" {
			return "", errHidden
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	if len(done) == 0 {
		return "", errHidden // the root itself
	}
	return path.Join(done...), nil
}
