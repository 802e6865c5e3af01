package mapping

import "github.com/continuity-go/continuity/mapper"

// The names applications use live in package mapper; the table uses them
// under their own names here.
type (
	Mode = mapper.Mode
	Key  = mapper.Key
)

const (
	ByCookie = mapper.ByCookie
	ByQuery  = mapper.ByQuery
	ByIP     = mapper.ByIP
	ByPath   = mapper.ByPath
)
