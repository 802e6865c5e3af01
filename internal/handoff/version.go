package handoff

import (
	"runtime"
	"strconv"

	"github.com/continuity-go/continuity/journal"
)

// Versions. A deploy can change a flow while journals its old code
// recorded are still replayed by the new. The new code asks Version at
// the change, and the session's first call of each name settles its
// version: a live run records the newest version the code knows; a replay
// takes the version the journal recorded, or 0 if the old code never
// asked (it ran before the change). A settled version then holds for the
// rest of the run, so that a session recorded by the old code stays on
// the old path after the replay, as it goes on live.
//
// Version entries are found by name, not by place: the other journaled
// calls' replay steps over them, so that moving or removing a Version
// call once no session needs it does not diverge.

// version is what a run of the flow settled on for one named change.
type version struct {
	name string
	v    int
}

// Version returns the version of the change name for this session:
// newest (0 if below) for a session that first reaches it live, the
// recorded one on replay (0 if the journal has none).
// request.Request.Version documents it.
func (r *Handle) Version(name string, newest int) int {
	newest = max(newest, 0)
	if r.dead {
		return newest // this run's Next ends it; it can do nothing with it
	}
	j := r.journal()
	for _, v := range j.versions {
		if v.name == name {
			return r.checkVersion(name, v.v, newest)
		}
	}
	v := newest
	if rp := r.rp; rp != nil {
		v = 0
		for i := range rp.entries {
			if e := &rp.entries[i]; e.Kind == journal.Version && e.Name == name {
				v = recordedVersion(e)
				break
			}
		}
	} else {
		j.append(journal.Entry{Kind: journal.Version, Step: j.step, Name: name, Value: strconv.AppendInt(nil, int64(newest), 10)})
	}
	j.versions = append(j.versions, version{name, v})
	return r.checkVersion(name, v, newest)
}

// checkVersion returns v, the version the session settled on, unless the
// code knows only versions up to newest (a deploy was rolled back): then
// the replay diverges, and the goroutine ends.
func (r *Handle) checkVersion(name string, v, newest int) int {
	if v < 0 {
		r.diverge("the journal's version of %q is not a version number", name)
		runtime.Goexit()
	}
	if v > newest {
		r.diverge("the session was recorded with version %d of %q, and this code knows versions up to %d", v, name, newest)
		runtime.Goexit()
	}
	return v
}

// recordedVersion is the version e records, or -1 if it is not a number.
func recordedVersion(e *journal.Entry) int {
	n, err := strconv.Atoi(string(e.Value))
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// settleRecorded settles, at the end of a replay, the versions the
// replayed timeline recorded that the replay did not ask for: a later
// step's code may ask them live.
func (j *journalState) settleRecorded(entries []journal.Entry) {
next:
	for i := range entries {
		e := &entries[i]
		if e.Kind != journal.Version {
			continue
		}
		for _, v := range j.versions {
			if v.name == e.Name {
				continue next
			}
		}
		j.versions = append(j.versions, version{e.Name, recordedVersion(e)})
	}
}
