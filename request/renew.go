package request

import "errors"

// RenewID is not implemented yet.
func (r *Request) RenewID() error { return errors.New("continuity: RenewID: not implemented") }
