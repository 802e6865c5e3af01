package continuity

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxKeysLine bounds one line of a keys file, comments included.
const maxKeysLine = 4096

// ReadKeys reads session signing keys in the keys-file format, so that the
// nodes of one deployment, given the same file, sign session IDs alike and
// accept each other's cookies (see [Options].Keys):
//
//	# one key per line; the first signs, all verify
//	4f1c…(64 or 128 hex digits)            # the hash key alone
//	9a0b…(64 or 128 hex digits) 1e2f…      # a hash key, then a block key
//
// A line holds a hash key in hex (32 or 64 bytes: 64 or 128 hex digits),
// optionally followed, after spaces or tabs, by a block (encryption) key in
// hex (16, 24 or 32 bytes). Everything after a "#" is a comment; blank
// lines are ignored. To rotate, put a new key first, keep the old one below
// it for as long as its cookies may come back, then remove it. Errors name
// the line and what is wrong with it, never the key. ReadKeys returns an
// error if r holds no key.
func ReadKeys(r io.Reader) ([]Key, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxKeysLine)
	var keys []Key
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		if len(fields) > 2 {
			return nil, fmt.Errorf("continuity: keys line %d: %d fields; want a hash key and optionally a block key", n, len(fields))
		}
		var k Key
		var err error
		if k.Hash, err = decodeKey(fields[0]); err != nil {
			return nil, fmt.Errorf("continuity: keys line %d: hash key: %w", n, err)
		}
		if l := len(k.Hash); l != 32 && l != 64 {
			return nil, fmt.Errorf("continuity: keys line %d: hash key is %d bytes (%d hex digits); want 32 or 64 bytes (64 or 128 hex digits)", n, l, 2*l)
		}
		if len(fields) == 2 {
			if k.Block, err = decodeKey(fields[1]); err != nil {
				return nil, fmt.Errorf("continuity: keys line %d: block key: %w", n, err)
			}
			if l := len(k.Block); l != 16 && l != 24 && l != 32 {
				return nil, fmt.Errorf("continuity: keys line %d: block key is %d bytes (%d hex digits); want 16, 24 or 32 bytes (32, 48 or 64 hex digits)", n, l, 2*l)
			}
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("continuity: keys: a line is longer than %d bytes", maxKeysLine)
		}
		return nil, fmt.Errorf("continuity: keys: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("continuity: keys: no key found (one hex key per line)")
	}
	return keys, nil
}

// decodeKey decodes one hex key, with an error that does not quote it.
func decodeKey(s string) ([]byte, error) {
	if len(s)%2 != 0 {
		return nil, fmt.Errorf("odd number of hex digits (%d)", len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		var bad hex.InvalidByteError
		if errors.As(err, &bad) {
			return nil, fmt.Errorf("not hex: invalid character %q", rune(bad))
		}
		return nil, errors.New("not hex")
	}
	return b, nil
}

// LoadKeysFile reads the keys file at path with [ReadKeys]. Keep the file
// readable only by the user the server runs as: whoever reads it can sign
// session IDs.
func LoadKeysFile(path string) ([]Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("continuity: keys file: %w", err)
	}
	defer f.Close()
	keys, err := ReadKeys(f)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return keys, nil
}
