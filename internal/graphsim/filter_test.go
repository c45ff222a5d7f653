package graphsim

import (
	"slices"
	"testing"
)

// filterFixture is a handful of users to evaluate filters against.
func filterFixture(t *testing.T) []*user {
	t.Helper()
	objs := []map[string]any{
		{"id": "a", "displayName": "Alice Adams", "mail": "alice@fabrikam.example", "userType": "Member", "accountEnabled": true,
			"department": "Sales", "companyName": "Fabrikam", "otherMails": []any{"alice@home.example"}},
		{"id": "b", "displayName": "Bob O'Brien", "mail": "bob@fabrikam.example", "userType": "Member", "accountEnabled": false,
			"department": "IT", "onPremisesExtensionAttributes": map[string]any{"extensionAttribute15": "anchor-1"}},
		{"id": "g", "displayName": "Gina Guest", "mail": "gina@partner.example", "userType": "Guest", "accountEnabled": true,
			"creationType": "Invitation", "otherMails": []any{"gina@partner.example"}},
		{"id": "n", "displayName": "Nora Nomail", "userType": "Member", "accountEnabled": true, "department": "Legal"},
	}
	var out []*user
	for _, o := range objs {
		u := &user{id: o["id"].(string)}
		delete(o, "id")
		if _, gerr := applyUserProps(u, o, modeSeed); gerr != nil {
			t.Fatalf("fixture: %v", gerr)
		}
		out = append(out, u)
	}
	return out
}

func TestFilter(t *testing.T) {
	users := filterFixture(t)
	tn := newTenant(New(Options{}), "00000000-0000-0000-0000-00000000000a", "fabrikam.example", "fabrikam.onmicrosoft.com", "Fabrikam")
	for _, u := range users {
		tn.users[u.id] = u
		tn.indexValues(u)
	}
	tests := []struct {
		expr     string
		advanced bool     // the request carries ConsistencyLevel and $count
		want     []string // matching ids, when the filter is accepted
		code     string   // error code, when it is refused
	}{
		{expr: "mail eq 'alice@fabrikam.example'", want: []string{"a"}},
		{expr: "mail eq 'ALICE@FABRIKAM.EXAMPLE'", want: []string{"a"}},
		{expr: "mail eq 'alice@fabrikam.example' or mail eq 'bob@fabrikam.example'", want: []string{"a", "b"}},
		{expr: "otherMails/any(x:x eq 'gina@partner.example')", want: []string{"g"}},
		{expr: "otherMails/any(x:startsWith(x, 'alice@'))", want: []string{"a"}},
		{expr: "creationType eq 'Invitation'", want: []string{"g"}},
		{expr: "userType eq 'Guest'", want: []string{"g"}},
		{expr: "userType ne 'Guest'", code: "Request_UnsupportedQuery"},
		{expr: "userType ne 'Guest'", advanced: true, want: []string{"a", "b", "n"}},
		{expr: "onPremisesExtensionAttributes/extensionAttribute15 eq 'anchor-1'", code: "Request_UnsupportedQuery"},
		{expr: "onPremisesExtensionAttributes/extensionAttribute15 eq 'anchor-1'", advanced: true, want: []string{"b"}},
		{expr: "mail eq 'x@y.example' or onPremisesExtensionAttributes/extensionAttribute15 eq 'anchor-1'", advanced: true, want: []string{"b"}},
		{expr: "companyName eq 'Fabrikam'", code: "Request_UnsupportedQuery"},
		{expr: "companyName eq 'Fabrikam'", advanced: true, want: []string{"a"}},
		{expr: "startsWith(displayName,'bob')", want: []string{"b"}},
		{expr: "endsWith(mail,'@fabrikam.example')", code: "Request_UnsupportedQuery"},
		{expr: "endsWith(mail,'@fabrikam.example')", advanced: true, want: []string{"a", "b"}},
		{expr: "endsWith(displayName,'Adams')", advanced: true, code: "Request_UnsupportedQuery"},
		{expr: "displayName eq 'Bob O''Brien'", want: []string{"b"}},
		{expr: "department in ('Sales', 'IT')", want: []string{"a", "b"}},
		{expr: "accountEnabled eq false", want: []string{"b"}},
		{expr: "NOT (accountEnabled eq false)", advanced: true, want: []string{"a", "g", "n"}},
		{expr: "(userType eq 'Member') and accountEnabled eq true", want: []string{"a", "n"}},
		{expr: "department eq null", advanced: true, want: []string{"g"}},
		{expr: "department eq null", code: "Request_UnsupportedQuery"},
		{expr: "mail eq null", advanced: true, code: "Request_UnsupportedQuery"},
		{expr: "faxNumber eq '1'", code: "Request_UnsupportedQuery"},
		{expr: "otherMails eq 'gina@partner.example'", code: "Request_UnsupportedQuery"},
		{expr: "id eq 'n'", want: []string{"n"}},
		{expr: "id in ('a', 'g')", want: []string{"a", "g"}},
		{expr: "favouriteColour eq 'blue'", code: "BadRequest"},
		{expr: "mail eq", code: "BadRequest"},
		{expr: "mail eq 'unterminated", code: "BadRequest"},
		{expr: "mail like 'a'", code: "BadRequest"},
		{expr: "(mail eq 'a'", code: "BadRequest"},
		{expr: "mail eq 'a' extra", code: "BadRequest"},
	}
	for _, tt := range tests {
		name := tt.expr
		if tt.advanced {
			name += " [advanced]"
		}
		t.Run(name, func(t *testing.T) {
			f, gerr := parseFilter(tt.expr, userResource)
			if gerr == nil && f.advanced && !tt.advanced {
				gerr = f.advReason
			}
			if tt.code != "" {
				if gerr == nil {
					t.Fatalf("accepted, want %s", tt.code)
				}
				if gerr.code != tt.code || gerr.status != 400 {
					t.Fatalf("got %d %s (%s), want 400 %s", gerr.status, gerr.code, gerr.message, tt.code)
				}
				return
			}
			if gerr != nil {
				t.Fatalf("refused: %v", gerr)
			}
			var got []string
			for _, u := range users {
				if f.root.eval(userGetter(u), nil) {
					got = append(got, u.id)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("matched %v, want %v", got, tt.want)
			}
			// Where the value index answers, it finds the same users.
			if cands, ok := tn.candidates(f); ok {
				var viaIndex []string
				for _, u := range cands {
					if f.root.eval(userGetter(u), nil) {
						viaIndex = append(viaIndex, u.id)
					}
				}
				if !slices.Equal(viaIndex, tt.want) {
					t.Errorf("through the value index matched %v, want %v", viaIndex, tt.want)
				}
			}
		})
	}
}
