package mapper

// Mode selects what identifies a session. Modes combine with |: ByIP|ByPath
// keys a session by client address and URL path, ByCookie|ByPath gives one
// browser a session per path.
type Mode uint8

const (
	// ByCookie keys sessions by a signed ID in a cookie (the default).
	ByCookie Mode = 1 << iota
	// ByQuery keys sessions by a signed ID in a query or form parameter,
	// for clients without cookies. It cannot be combined with ByCookie: a
	// server that accepts IDs from URLs as well as cookies invites session
	// fixation.
	ByQuery
	// ByIP keys sessions by the client's IP address. Addresses identify,
	// they do not authenticate: many users may share one behind NAT.
	ByIP
	// ByPath keys sessions by the cleaned URL path, so one browser can hold
	// several sessions, one per path. It must be combined with ByCookie,
	// ByQuery or ByIP: alone it would give every browser that visits a
	// path the same session, and New refuses it.
	ByPath
)

// Key is one signing key set. Hash authenticates the session ID with
// HMAC-SHA256 and must be 32 or 64 bytes. Block, if set, also encrypts it
// with AES and must be 16, 24 or 32 bytes.
type Key struct {
	Hash  []byte
	Block []byte
}
