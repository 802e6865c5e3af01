package handoff

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRelativePathResolvesToTheTarget(t *testing.T) {
	cases := []struct{ from, to string }{
		{"/order", "/order"},
		{"/", "/"},
		{"/a/x", "/b/c"},
		{"/a/b/c", "/a/d"},
		{"/a/", "/a/"},
		{"/a/b", "/"},
		{"/x", "/a:b"},
		{"/a/b/", "/a/b/c"},
	}
	for _, tc := range cases {
		rel := relativePath(tc.from, tc.to)
		// Resolved against the page, under any mount prefix, it lands on
		// the target under that prefix.
		for _, mount := range []string{"", "/shop"} {
			base, _ := url.Parse("http://h" + mount + tc.from)
			ref, err := url.Parse(rel)
			if assert.NoError(t, err, rel) {
				assert.Equal(t, mount+tc.to, base.ResolveReference(ref).Path, "from %s to %s via %q", tc.from, tc.to, rel)
			}
		}
	}
}
