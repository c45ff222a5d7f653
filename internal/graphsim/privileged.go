package graphsim

import (
	"fmt"
	"strings"
)

// Privileged users. A user who holds an administrator role is protected
// from apps: Graph's users overview
// (https://learn.microsoft.com/graph/api/resources/users#who-can-perform-sensitive-actions)
// lists the sensitive properties only a higher privileged administrator
// may update, and the Update user and Delete user pages
// (https://learn.microsoft.com/graph/api/user-update#permissions,
// https://learn.microsoft.com/graph/api/user-delete#permissions) say that
// in app-only scenarios User.ReadWrite.All "isn't enough privilege" for
// users with privileged administrator roles; the app would need an
// administrator role itself, which the simulated app never has. The
// simulator marks such users with the seed key "privileged" (never returned
// by Graph reads) instead of modelling directory roles.

// sensitiveUserProps are the sensitive properties of the users overview's
// "Who can perform sensitive actions" table.
const sensitiveUserProps = 1<<pAccountEnabled | 1<<pBusinessPhones | 1<<pMobilePhone |
	1<<pOnPremisesImmutableID | 1<<pOtherMails | 1<<pPasswordProfile | 1<<pUserPrincipalName

// namedProps returns the bit mask of the user properties a PATCH body
// names, whether or not their values change: naming a sensitive property of
// a privileged user is refused even when the value is the same.
func namedProps(props map[string]any) uint64 {
	var mask uint64
	for k := range props {
		if i, ok := lookupUserProp(k); ok && i >= 0 {
			mask |= 1 << uint(i)
		}
	}
	return mask
}

// SetPrivileged marks a user (by id or userPrincipalName, live or
// soft-deleted) as holding an administrator role, or clears the mark.
func (s *Server) SetPrivileged(tenant, user string, privileged bool) error {
	t := s.lookupTenant(tenant)
	if t == nil {
		return fmt.Errorf("set privileged: %s: %w", tenant, ErrUnknownTenant)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	u := t.lookupUser(user)
	if u == nil {
		u = t.lookupDeletedUser(user)
	}
	if u == nil {
		return fmt.Errorf("set privileged: no user %s in %s", user, tenant)
	}
	u.privileged = privileged
	return nil
}

// lookupDeletedUser finds a soft-deleted user by id or userPrincipalName;
// the caller holds t.mu.
func (t *tenant) lookupDeletedUser(key string) *user {
	if u := t.deletedUsers[strings.ToLower(key)]; u != nil {
		return u
	}
	for _, u := range t.deletedUsers {
		if strings.EqualFold(u.upn(), key) {
			return u
		}
	}
	return nil
}
