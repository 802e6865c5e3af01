package mapper

import (
	"crypto/rand"

	"github.com/google/uuid"
)

// RandomID is the default ID minter: 26 base32 characters carrying 130 bits
// from crypto/rand. It never fails.
func RandomID() (string, error) { return rand.Text(), nil }

// UUID mints random (version 4) UUIDs: 122 random bits. It uses
// uuid.NewRandom, which reports a failing random source as an error rather
// than panicking, and it never touches the uuid package's global settings.
func UUID() (string, error) {
	u, err := uuid.NewRandom()
	if err != nil {
		return "", err
	}
	return u.String(), nil
}
