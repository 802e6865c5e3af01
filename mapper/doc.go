// Package mapper names how a continuity server maps requests to sessions:
// the key modes ([ByCookie], [ByQuery], [ByIP], [ByPath] and their
// combinations), the signing keys ([Key]) and the session ID minters
// ([RandomID], [UUID]). Applications set them in continuity.Options; the
// session table itself (minting, signing, bounds, eviction and reaping)
// runs inside the server.
//
// Session IDs are minted by the server (130 bits from crypto/rand by
// default) and sent signed with HMAC-SHA256. The mapping is strict: an ID
// that is missing, forged, expired or no longer live never becomes a
// session key; a fresh ID is minted instead.
package mapper
