package continuity

import (
	"net/http"
	"strings"

	"github.com/continuity-go/continuity/request"
)

// progressPrefix is the path of the progress status endpoint; the meter's
// name follows it.
const progressPrefix = "/_progress_status/"

// serveProgress answers GET /_progress_status/NAME for the meters of the
// request's session. It looks the session up without creating one, so the
// endpoint never starts a session or sets a cookie, and it never waits for
// the session goroutine: it answers while the session is busy with the
// work being measured. A request with no live session gets the same 404
// as an unknown meter. See package progress for the JSON, long-poll and
// Server-Sent Events transports.
func (s *Server) serveProgress(w http.ResponseWriter, r *http.Request) {
	sess, _ := s.mapper.Find(r)
	s.progress.ServeStatus(w, r, (*request.Session)(sess), strings.TrimPrefix(r.URL.Path, progressPrefix))
}
