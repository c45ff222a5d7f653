package graphsim

import (
	"slices"
	"strings"
)

// The value index maps the lower-cased values of the properties tenantsync
// matches users on (mail, otherMails, userPrincipalName, employeeId and the
// extension attributes) and the proxyAddresses (as written and without
// their smtp: prefix) to the users that hold them, so that an equality
// $filter, an invitation or the mail uniqueness check finds its users
// without reading every user.

// indexedMask are the properties whose values are indexed.
const indexedMask = 1<<pMail | 1<<pOtherMails | 1<<pUserPrincipalName | 1<<pEmployeeID |
	1<<pOnPremisesExtensionAttributes | 1<<pProxyAddresses

func isIndexed(prop int) bool { return prop >= 0 && indexedMask&(1<<uint(prop)) != 0 }

// indexKeys returns u's indexed values, lower-cased and without repeats.
func indexKeys(u *user) []string {
	keys := make([]string, 0, 4)
	add := func(s string) {
		if s == "" {
			return
		}
		k := strings.ToLower(s)
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	add(u.str(pMail))
	add(u.str(pUserPrincipalName))
	add(u.str(pEmployeeID))
	if others, ok := u.v[pOtherMails].([]string); ok {
		for _, m := range others {
			add(m)
		}
	}
	if proxies, ok := u.v[pProxyAddresses].([]string); ok {
		for _, p := range proxies {
			add(p)
			add(proxyAddress(p))
		}
	}
	if e, ok := u.v[pOnPremisesExtensionAttributes].(*extAttrs); ok {
		for _, s := range e {
			if s != nil {
				add(*s)
			}
		}
	}
	return keys
}

// indexValues adds a live user's values; the caller holds t.mu.
func (t *tenant) indexValues(u *user) {
	if t.values == nil {
		t.values = make(map[string][]*user)
	}
	for _, k := range indexKeys(u) {
		t.values[k] = append(t.values[k], u)
	}
}

// unindexValues removes a user's values; the caller holds t.mu.
func (t *tenant) unindexValues(u *user) {
	for _, k := range indexKeys(u) {
		list := t.values[k]
		if i := slices.Index(list, u); i >= 0 {
			list = slices.Delete(list, i, i+1)
		}
		if len(list) == 0 {
			delete(t.values, k)
		} else {
			t.values[k] = list
		}
	}
}

// candidates returns the live users that can match f, from the value
// index, sorted by id; ok is false when f needs a full scan.
func (t *tenant) candidates(f *filter) ([]*user, bool) {
	set, ok := t.plan(f.root)
	if !ok {
		return nil, false
	}
	out := make([]*user, 0, len(set))
	for u := range set {
		out = append(out, u)
	}
	sortUsers(out)
	return out, true
}

func (t *tenant) plan(n fnode) (map[*user]bool, bool) {
	lookup := func(vals ...string) map[*user]bool {
		set := map[*user]bool{}
		for _, v := range vals {
			for _, u := range t.values[strings.ToLower(v)] {
				set[u] = true
			}
		}
		return set
	}
	switch x := n.(type) {
	case fOr:
		l, ok := t.plan(x.l)
		if !ok {
			return nil, false
		}
		r, ok := t.plan(x.r)
		if !ok {
			return nil, false
		}
		for u := range r {
			l[u] = true
		}
		return l, true
	case fAnd:
		if l, ok := t.plan(x.l); ok {
			return l, true
		}
		return t.plan(x.r)
	case fCmp:
		if x.op != "eq" || x.val.null || x.val.b != nil {
			return nil, false
		}
		if x.path.prop == pID && !x.path.isVar {
			set := map[*user]bool{}
			if u := t.users[strings.ToLower(x.val.s)]; u != nil {
				set[u] = true
			}
			return set, true
		}
		if !x.path.isVar && isIndexed(x.path.prop) {
			return lookup(x.val.s), true
		}
	case fIn:
		if x.path.isVar || !isIndexed(x.path.prop) {
			return nil, false
		}
		vals := make([]string, 0, len(x.vals))
		for _, v := range x.vals {
			if v.null || v.b != nil {
				return nil, false
			}
			vals = append(vals, v.s)
		}
		return lookup(vals...), true
	case fAny:
		if !isIndexed(x.path.prop) {
			return nil, false
		}
		if c, ok := x.body.(fCmp); ok && c.path.isVar && c.op == "eq" && !c.val.null && c.val.b == nil {
			return lookup(c.val.s), true
		}
	}
	return nil, false
}
