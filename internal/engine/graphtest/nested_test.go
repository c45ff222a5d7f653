package graphtest_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/graphsim"
	"github.com/tenantsync/tenantsync/internal/store"
)

// Found by reading the engine while building the chaos suite: a user who
// leaves a nested group in the same delta window in which that group (or a
// group around it) is taken out of the scope was never re-evaluated: the
// group no longer counted as nested when the delta was read, and its
// members now did not include the user.
func TestLeavingAGroupTakenOutOfANestedScope(t *testing.T) {
	tests := []struct {
		name, who string
		// leave takes who out of the scope, in one delta window.
		leave func(e *env, g map[string]string)
	}{
		{"user removed from a group, the group taken out", "ivan", func(e *env, g map[string]string) {
			e.graphCall(srcDomain, "DELETE", "/groups/"+g["Sub"]+"/members/"+e.sourceID("ivan")+"/$ref", nil, nil)
			e.graphCall(srcDomain, "DELETE", "/groups/"+e.groupID()+"/members/"+g["Sub"]+"/$ref", nil, nil)
		}},
		{"user removed from a group two levels down, that group taken out of the one above", "judy", func(e *env, g map[string]string) {
			e.graphCall(srcDomain, "DELETE", "/groups/"+g["Deep"]+"/members/"+e.sourceID("judy")+"/$ref", nil, nil)
			e.graphCall(srcDomain, "DELETE", "/groups/"+g["Sub"]+"/members/"+g["Deep"]+"/$ref", nil, nil)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, func(s *graphsim.Seed, c *config.Config) {
				c.Targets[0].Scope.Nested = true
				src := &s.Tenants[0]
				src.Users = append(src.Users, person("ivan", "Ivan", "Ito", "Sales", nil), person("judy", "Judy", "Jung", "Sales", nil))
				src.Groups = append(src.Groups,
					graphsim.Object{"displayName": "Deep", "members": []any{"judy@" + srcDomain}},
					graphsim.Object{"displayName": "Sub", "members": []any{"ivan@" + srcDomain, "Deep"}},
				)
				src.Groups[0]["members"] = append(src.Groups[0]["members"].([]any), "Sub")
			})
			_, cs := e.reconcile(true)
			e.process(cs)
			groups := map[string]string{}
			for _, name := range []string{"Sub", "Deep"} {
				var page struct{ Value []struct{ ID string } }
				e.graphCall(srcDomain, "GET", "/groups?$filter="+url.QueryEscape("displayName eq '"+name+"'"), nil, &page)
				groups[name] = page.Value[0].ID
			}
			who := tt.who
			if l := e.link(who); l.State != store.LinkActive {
				t.Fatalf("%s before: %s", who, l.State)
			}
			tt.leave(e, groups)
			_, cs = e.reconcile(false)
			if !slices.Contains(ids(cs), e.sourceID(who)) {
				t.Fatalf("the delta emitted %v, not %s, who left the scope", ids(cs), who)
			}
			e.process(cs)
			if l := e.link(who); l.State != store.LinkDeleted {
				t.Errorf("%s after leaving the scope: link %s, want deleted", who, l.State)
			}
		})
	}
}
