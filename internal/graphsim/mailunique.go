package graphsim

import "strings"

// A user's mail must not be the mail or one of the proxyAddresses of
// another directory object. The Graph reference does not document the
// error; Entra answers 400 Request_BadRequest "Another object with the same
// value for property proxyAddresses already exists.", the message Microsoft's
// troubleshooting article quotes
// (https://learn.microsoft.com/exchange/troubleshoot/email-alias/proxy-address-being-used)
// and Graph clients match on. Soft-deleted users and groups clash too, as
// they keep their addresses until purged: undocumented, so the stricter
// reading.

func errProxyAddressTaken() *graphError {
	return errBadRequest("Another object with the same value for property proxyAddresses already exists.")
}

// proxyAddress returns the address of a proxyAddresses entry without its
// "SMTP:" or "smtp:" prefix.
func proxyAddress(p string) string {
	if prefix, addr, ok := strings.Cut(p, ":"); ok && strings.EqualFold(prefix, "smtp") {
		return addr
	}
	return p
}

// holdsAddress reports whether a mail and proxyAddresses pair holds addr,
// case-insensitively.
func holdsAddress(mail string, proxies []string, addr string) bool {
	if strings.EqualFold(mail, addr) {
		return true
	}
	for _, p := range proxies {
		if strings.EqualFold(proxyAddress(p), addr) {
			return true
		}
	}
	return false
}

// checkMailUnique refuses mail for u when another user or group, live or
// soft-deleted, holds it; the caller holds t.mu. The value index finds the
// live users; deleted objects and groups are few and read in full.
func (t *tenant) checkMailUnique(u *user, mail string) *graphError {
	if mail == "" {
		return nil
	}
	clash := func(o *user) bool {
		if o == nil || o.id == u.id {
			return false
		}
		proxies, _ := o.v[pProxyAddresses].([]string)
		return holdsAddress(o.str(pMail), proxies, mail)
	}
	for _, o := range t.values[strings.ToLower(mail)] {
		if clash(o) {
			return errProxyAddressTaken()
		}
	}
	for _, o := range t.deletedUsers {
		if clash(o) {
			return errProxyAddressTaken()
		}
	}
	for _, groups := range []map[string]*group{t.groups, t.deletedGroups} {
		for _, g := range groups {
			proxies, _ := g.v[gProxyAddresses].([]string)
			if holdsAddress(g.str(gMail), proxies, mail) {
				return errProxyAddressTaken()
			}
		}
	}
	return nil
}
