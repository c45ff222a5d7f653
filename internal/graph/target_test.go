package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"testing"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/graphsim"
)

func TestInvite(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, target)
	ctx := context.Background()
	inv := engine.Invitation{Email: "dave@fabrikam.example", DisplayName: "Dave Davies",
		RedirectURL: "https://myapps.microsoft.com", UserType: "Member"}
	sim.reset()
	u, err := c.Invite(ctx, inv)
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	if u.ID == "" || len(u.Attrs) != 0 {
		t.Fatalf("invited user = %+v, want an id and no attributes", u)
	}
	var body map[string]any
	if err := json.Unmarshal(sim.recorded()[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"invitedUserEmailAddress": inv.Email, "invitedUserDisplayName": inv.DisplayName,
		"inviteRedirectUrl": inv.RedirectURL, "invitedUserType": "Member", "sendInvitationMessage": false} {
		if body[k] != want {
			t.Errorf("invitation %s = %v, want %v", k, body[k], want)
		}
	}
	got, err := c.GetUser(ctx, u.ID, []string{"userType", "mail", "displayName", "creationType"})
	if err != nil {
		t.Fatalf("GetUser of the invited user: %v", err)
	}
	want := directory.Attributes{"userType": "Member", "mail": inv.Email, "displayName": inv.DisplayName, "creationType": "Invitation"}
	if !reflect.DeepEqual(got.Attrs, want) {
		t.Errorf("invited user = %v, want %v", got.Attrs, want)
	}
	again, err := c.Invite(ctx, inv)
	if err != nil || again.ID != u.ID {
		t.Errorf("second invitation = %+v, %v; want the same user %s", again, err, u.ID)
	}
}

func TestInviteErrors(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	ctx := context.Background()
	_, err := sim.client(t, closed).Invite(ctx, engine.Invitation{Email: "a@fabrikam.example", RedirectURL: "https://myapps.microsoft.com"})
	if !errors.Is(err, directory.ErrForbidden) {
		t.Fatalf("invitation into a closed tenant = %v, want ErrForbidden", err)
	}
	if de := asError(t, err); de.Status != 403 || de.Code == "" || de.Op != "invite a@fabrikam.example" {
		t.Errorf("error = %+v", de)
	}
	sim.reset()
	_, err = sim.client(t, target).Invite(ctx, engine.Invitation{Email: "a@fabrikam.example"})
	if !errors.Is(err, directory.ErrBadRequest) || len(sim.recorded()) != 0 {
		t.Errorf("invitation without redirect URL = %v after %d requests, want ErrBadRequest before any", err, len(sim.recorded()))
	}
}

func TestFindUsers(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, target)
	ctx := context.Background()
	byAnchor := engine.Cond{Attr: anchor, Value: "tenantsync:fabrikam.example:" + aliceID}
	tests := []struct {
		name         string
		conds        []engine.Cond
		attrs        []string
		want         map[string]directory.Attributes
		wantAdvanced bool
		wantRequests int
	}{{
		name:  "anchor, mail and otherMails in one advanced query, manager read per user",
		conds: []engine.Cond{byAnchor, {Attr: "mail", Value: "bob@fabrikam.example"}, {Attr: "otherMails", Value: "bob@fabrikam.example"}},
		attrs: []string{anchor, "mail", "manager"},
		want: map[string]directory.Attributes{
			b2bAliceID:  {anchor: "tenantsync:fabrikam.example:" + aliceID, "mail": "alice@fabrikam.example", "manager": nil},
			memberEveID: {anchor: nil, "mail": "eve@contoso.example", "manager": nil},
		},
		wantAdvanced: true, wantRequests: 3,
	}, {
		name:  "a quote in the value, default query with $expand",
		conds: []engine.Cond{{Attr: "mail", Value: carolMail}, {Attr: "otherMails", Value: carolMail}},
		attrs: []string{"userType", "manager"},
		want: map[string]directory.Attributes{
			b2bCarolID: {"userType": "Guest", "manager": memberEveID},
		},
		wantRequests: 1,
	}, {
		name:         "no match",
		conds:        []engine.Cond{{Attr: "mail", Value: "nobody@fabrikam.example"}},
		attrs:        []string{"mail"},
		want:         map[string]directory.Attributes{},
		wantRequests: 1,
	}, {
		name:         "a Boolean property",
		conds:        []engine.Cond{{Attr: "userType", Value: "Guest"}, {Attr: "accountEnabled", Value: "false"}},
		attrs:        []string{"displayName"},
		want:         map[string]directory.Attributes{b2bCarolID: {"displayName": "Carol O'Neil"}},
		wantRequests: 1,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim.reset()
			users, err := c.FindUsers(ctx, tt.conds, tt.attrs)
			if err != nil {
				t.Fatalf("FindUsers: %v", err)
			}
			got := map[string]directory.Attributes{}
			for _, u := range users {
				got[u.ID] = u.Attrs
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FindUsers:\n got %v\nwant %v", got, tt.want)
			}
			reqs := sim.recorded()
			if len(reqs) != tt.wantRequests {
				t.Fatalf("%d requests, want %d", len(reqs), tt.wantRequests)
			}
			r := reqs[0]
			advanced := r.Header.Get("ConsistencyLevel") == "eventual" && r.Query.Get("$count") == "true"
			if advanced != tt.wantAdvanced {
				t.Errorf("advanced query = %v, want %v (headers %v, query %v)", advanced, tt.wantAdvanced, r.Header, r.Query)
			}
			if hasExpand := r.Query.Get("$expand") != ""; hasExpand == tt.wantAdvanced && contains(tt.attrs, "manager") {
				t.Errorf("$expand = %q with advanced %v", r.Query.Get("$expand"), tt.wantAdvanced)
			}
		})
	}

	sim.reset()
	if users, err := c.FindUsers(ctx, nil, []string{"mail"}); err != nil || users != nil || len(sim.recorded()) != 0 {
		t.Errorf("FindUsers without conditions = %v, %v after %d requests", users, err, len(sim.recorded()))
	}
	for _, bad := range []string{"mail eq 'x' or true", "a/b", "a.b.c", ""} {
		if _, err := c.FindUsers(ctx, []engine.Cond{{Attr: bad, Value: "x"}}, nil); !errors.Is(err, directory.ErrBadRequest) {
			t.Errorf("FindUsers on %q = %v, want ErrBadRequest", bad, err)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestFindUsersFilter(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, target)
	sim.reset()
	_, err := c.FindUsers(context.Background(), []engine.Cond{
		{Attr: anchor, Value: "tenantsync:x:1"},
		{Attr: "mail", Value: "o'neil@x.example"},
		{Attr: "otherMails", Value: "o'neil@x.example"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const want = "onPremisesExtensionAttributes/extensionAttribute15 eq 'tenantsync:x:1' or mail eq 'o''neil@x.example' or otherMails/any(x:x eq 'o''neil@x.example')"
	if got := sim.recorded()[0].Query.Get("$filter"); got != want {
		t.Errorf("$filter\n got %s\nwant %s", got, want)
	}
}

func TestUpdateUser(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, source)
	ctx := context.Background()
	patch := directory.Attributes{
		"displayName":    "Alice A. Adams",
		"jobTitle":       nil,
		"department":     "",
		"businessPhones": nil,
		"onPremisesExtensionAttributes.extensionAttribute15": "tenantsync:x:1",
		"onPremisesExtensionAttributes.extensionAttribute3":  nil,
		"accountEnabled": false,
		"otherMails":     []string{"a@x.example", "b@x.example"},
	}
	sim.reset()
	if err := c.UpdateUser(ctx, aliceID, patch); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	reqs := sim.recorded()
	if len(reqs) != 1 || reqs[0].Method != "PATCH" {
		t.Fatalf("requests = %+v, want one PATCH", reqs)
	}
	// Bodies go uncompressed: the SDK's gzip costs more CPU than it saves
	// bytes (newHTTPClient).
	if enc := reqs[0].Header.Get("Content-Encoding"); enc != "" {
		t.Errorf("PATCH sent with Content-Encoding %q, want none", enc)
	}
	var body any
	if err := json.Unmarshal(reqs[0].Body, &body); err != nil {
		t.Fatalf("body %s: %v", reqs[0].Body, err)
	}
	var want any
	_ = json.Unmarshal([]byte(`{"accountEnabled":false,"businessPhones":[],"department":null,"displayName":"Alice A. Adams",
		"jobTitle":null,"otherMails":["a@x.example","b@x.example"],
		"onPremisesExtensionAttributes":{"extensionAttribute15":"tenantsync:x:1","extensionAttribute3":null}}`), &want)
	if !reflect.DeepEqual(body, want) {
		t.Errorf("PATCH body\n got %s\nwant %v", reqs[0].Body, want)
	}
	keys := patch.Keys()
	keys = append(keys, "onPremisesExtensionAttributes.extensionAttribute1")
	sort.Strings(keys)
	u, err := c.GetUser(ctx, aliceID, keys)
	if err != nil {
		t.Fatal(err)
	}
	after := directory.Attributes{
		"displayName": "Alice A. Adams", "jobTitle": nil, "department": nil, "businessPhones": []string{},
		"onPremisesExtensionAttributes.extensionAttribute15": "tenantsync:x:1",
		"onPremisesExtensionAttributes.extensionAttribute3":  nil,
		"onPremisesExtensionAttributes.extensionAttribute1":  "A1", // untouched
		"accountEnabled": false, "otherMails": []string{"a@x.example", "b@x.example"},
	}
	if !reflect.DeepEqual(u.Attrs, after) {
		t.Errorf("after the PATCH:\n got %#v\nwant %#v", u.Attrs, after)
	}

	sim.reset()
	if err := c.UpdateUser(ctx, aliceID, nil); err != nil || len(sim.recorded()) != 0 {
		t.Errorf("empty UpdateUser = %v after %d requests, want no request", err, len(sim.recorded()))
	}
	for _, bad := range []directory.Attributes{
		{"manager": bobID},
		{"onPremisesExtensionAttributes": nil, "onPremisesExtensionAttributes.extensionAttribute1": "x"},
		{"a..b": "x"},
	} {
		if err := c.UpdateUser(ctx, aliceID, bad); !errors.Is(err, directory.ErrBadRequest) {
			t.Errorf("UpdateUser(%v) = %v, want ErrBadRequest", bad, err)
		}
	}
	if len(sim.recorded()) != 0 {
		t.Errorf("invalid patches sent %d requests", len(sim.recorded()))
	}
	err = c.UpdateUser(ctx, "00000000-0000-4000-8000-00000000dead", directory.Attributes{"jobTitle": "x"})
	if !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("UpdateUser of a missing user = %v, want ErrNotFound", err)
	}
}

func TestDeleteAndRestoreUser(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, target)
	ctx := context.Background()
	attrs := []string{"displayName", "mail", anchor, "manager"}
	if err := c.DeleteUser(ctx, b2bAliceID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	if _, err := c.GetUser(ctx, b2bAliceID, attrs); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("GetUser of a deleted user = %v, want ErrNotFound", err)
	}
	d, err := c.GetDeletedUser(ctx, b2bAliceID, attrs)
	if err != nil {
		t.Fatalf("GetDeletedUser: %v", err)
	}
	want := directory.Attributes{"displayName": "Alice Adams", "mail": "alice@fabrikam.example", anchor: "tenantsync:fabrikam.example:" + aliceID}
	if !d.Deleted || d.ID != b2bAliceID || !reflect.DeepEqual(d.Attrs, want) {
		t.Errorf("deleted user = %+v, want deleted with %v", d, want)
	}
	if err := c.DeleteUser(ctx, b2bAliceID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("second DeleteUser = %v, want ErrNotFound", err)
	}
	if err := c.RestoreUser(ctx, b2bAliceID); err != nil {
		t.Fatalf("RestoreUser: %v", err)
	}
	u, err := c.GetUser(ctx, b2bAliceID, attrs)
	if err != nil || u.Attrs[anchor] != want[anchor] {
		t.Errorf("restored user = %+v, %v", u, err)
	}
	if _, err := c.GetDeletedUser(ctx, b2bAliceID, attrs); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("GetDeletedUser after restore = %v, want ErrNotFound", err)
	}
	if err := c.RestoreUser(ctx, b2bAliceID); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("restore of a user not deleted = %v, want ErrNotFound", err)
	}

	// A deleted group is not a deleted user.
	src := sim.client(t, source)
	gc := admin(t, sim.tenantURL(source))
	if err := gc.Groups().ByGroupId(quoteID).Delete(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := src.GetDeletedUser(ctx, quoteID, attrs); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("GetDeletedUser of a deleted group = %v, want ErrNotFound", err)
	}
}

func TestSetManager(t *testing.T) {
	sim := newSim(t, graphsim.Options{})
	c := sim.client(t, target)
	ctx := context.Background()
	manager := func() any {
		t.Helper()
		u, err := c.GetUser(ctx, b2bAliceID, []string{"manager"})
		if err != nil {
			t.Fatal(err)
		}
		return u.Attrs["manager"]
	}
	sim.reset()
	if err := c.SetManager(ctx, b2bAliceID, memberEveID); err != nil {
		t.Fatalf("SetManager: %v", err)
	}
	r := sim.recorded()[0]
	if r.Method != "PUT" || r.Path != "/contoso.example/v1.0/users/"+b2bAliceID+"/manager/$ref" {
		t.Errorf("request = %s %s", r.Method, r.Path)
	}
	var ref map[string]any
	if err := json.Unmarshal(r.Body, &ref); err != nil || ref["@odata.id"] != sim.tenantURL(target)+"/users/"+memberEveID {
		t.Errorf("body = %s (%v)", r.Body, err)
	}
	if got := manager(); got != memberEveID {
		t.Errorf("manager = %v, want %s", got, memberEveID)
	}
	if err := c.SetManager(ctx, b2bAliceID, ""); err != nil {
		t.Fatalf("remove manager: %v", err)
	}
	if got := manager(); got != nil {
		t.Errorf("manager after removal = %v, want nil", got)
	}
	if err := c.SetManager(ctx, b2bAliceID, "00000000-0000-4000-8000-00000000dead"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("SetManager to a missing user = %v, want ErrNotFound", err)
	}
}
