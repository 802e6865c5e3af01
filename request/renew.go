package request

// RenewID gives the session a new ID and invalidates the old one, as
// OWASP asks on every change of privilege (log in, log out, sudo): a
// session ID an attacker planted or saw before the change stops working.
// In cookie modes the new signed cookie goes out with the response in
// hand; in ByQuery mode [Request.SessionToken] returns the new token,
// which the pages rendered from now on must carry (links from older pages
// no longer reach the session). With ByCookie|ByPath the cookie names the
// browser, so all of that browser's sessions move to the new ID.
//
// Call it with a request in hand, before the response head is sent (the
// first write or flush); after that it returns an error and changes
// nothing. In modes without a session ID (ByIP, ByIP|ByPath) it returns an
// error: there is nothing to renew.
func (r *Request) RenewID() error { return r.h().RenewID() }
