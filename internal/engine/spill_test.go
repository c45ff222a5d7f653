package engine

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/store"
)

func TestSpillRoundTrip(t *testing.T) {
	sp, err := newSpill()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	users := []directory.User{
		{ID: "empty"},
		{ID: "no attributes", Attrs: directory.Attributes{}},
		{ID: "deleted", Deleted: true, Attrs: directory.Attributes{"displayName": "Gone"}},
		{ID: "every type", Attrs: directory.Attributes{
			"displayName": "Adele Vance", "empty": "", "unset": nil, "accountEnabled": true, "showInAddressList": false,
			"count": int64(-42), "big": int64(1) << 62, "businessPhones": []string{"+1 555 0100", ""},
			"otherMails": []string{}, "nilList": []string(nil), "unicode": "Zoë 🚀",
		}},
	}
	idx := newUserIndex(sp)
	for _, u := range users {
		if err := idx.put(u.ID, u); err != nil {
			t.Fatalf("put %s: %v", u.ID, err)
		}
	}
	for _, want := range users {
		got, ok, err := idx.get(want.ID)
		if err != nil || !ok {
			t.Fatalf("get %s: ok %v, err %v", want.ID, ok, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("user %s came back as %#v, want %#v", want.ID, got, want)
		}
	}
	if _, ok, err := idx.get("missing"); ok || err != nil {
		t.Errorf("get missing: ok %v, err %v", ok, err)
	}

	created := time.Date(2026, 11, 27, 10, 0, 0, 123, time.UTC)
	links := []store.Link{
		{Target: "contoso", SourceID: "s1"},
		{Target: "contoso", SourceID: "s2", TargetID: "t2", SourceUPN: "a@fabrikam.example", Hash: "h", State: store.LinkActive,
			LastError: "boom", ETag: "W/1", Created: created, Updated: created.Add(time.Hour),
			Attributes: directory.Attributes{"mail": "a@fabrikam.example", "manager": "t9", "accountEnabled": false, "businessPhones": []string{"1"}}},
	}
	li := newLinkIndex(sp)
	for _, l := range links {
		if err := li.put(l.SourceID, l); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range links {
		got, ok, err := li.get(want.SourceID)
		if err != nil || !ok {
			t.Fatalf("get link %s: ok %v, err %v", want.SourceID, ok, err)
		}
		if !got.Created.Equal(want.Created) || !got.Updated.Equal(want.Updated) {
			t.Errorf("link %s times %v %v, want %v %v", want.SourceID, got.Created, got.Updated, want.Created, want.Updated)
		}
		got.Created, got.Updated, want.Created, want.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("link %s came back as %#v, want %#v", want.SourceID, got, want)
		}
	}
}

func TestSpilledIndex(t *testing.T) {
	sp, err := newSpill()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	type step struct {
		id    string
		attrs directory.Attributes
	}
	tests := []struct {
		name    string
		puts    []step
		want    map[string]directory.Attributes
		inHeap  []string // kept out of the file: a value the codec does not know
		spilled []string
	}{
		{name: "nothing", want: map[string]directory.Attributes{}},
		{name: "replace keeps the last", puts: []step{{"a", directory.Attributes{"x": "1"}}, {"a", directory.Attributes{"x": "2"}}},
			want: map[string]directory.Attributes{"a": {"x": "2"}}, spilled: []string{"a"}},
		{name: "an unknown type stays in the heap", puts: []step{{"a", directory.Attributes{"x": 1.5}}, {"b", directory.Attributes{"x": "b"}}},
			want: map[string]directory.Attributes{"a": {"x": 1.5}, "b": {"x": "b"}}, inHeap: []string{"a"}, spilled: []string{"b"}},
		{name: "from the heap to the file", puts: []step{{"a", directory.Attributes{"x": 1.5}}, {"a", directory.Attributes{"x": "ok"}}},
			want: map[string]directory.Attributes{"a": {"x": "ok"}}, spilled: []string{"a"}},
		{name: "from the file to the heap", puts: []step{{"a", directory.Attributes{"x": "ok"}}, {"a", directory.Attributes{"x": []int{1}}}},
			want: map[string]directory.Attributes{"a": {"x": []int{1}}}, inHeap: []string{"a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			idx := newUserIndex(sp)
			for _, p := range tc.puts {
				if err := idx.put(p.id, directory.User{ID: p.id, Attrs: p.attrs}); err != nil {
					t.Fatal(err)
				}
			}
			if idx.len() != len(tc.want) {
				t.Errorf("len %d, want %d", idx.len(), len(tc.want))
			}
			got := map[string]directory.Attributes{}
			if err := idx.each(func(id string, u directory.User) error { got[id] = u.Attrs; return nil }); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("each gave %v, want %v", got, tc.want)
			}
			var ids []string
			idx.eachID(func(id string) { ids = append(ids, id) })
			slices.Sort(ids)
			wantIDs := slices.Sorted(func(yield func(string) bool) {
				for id := range tc.want {
					if !yield(id) {
						return
					}
				}
			})
			if !slices.Equal(ids, wantIDs) {
				t.Errorf("eachID gave %v, want %v", ids, wantIDs)
			}
			for _, id := range tc.inHeap {
				if _, ok := idx.mem[id]; !ok {
					t.Errorf("%s is not in the heap", id)
				}
			}
			for _, id := range tc.spilled {
				if _, ok := idx.refs[id]; !ok {
					t.Errorf("%s is not in the file", id)
				}
			}
		})
	}
}

func TestDecodeRejectsDamage(t *testing.T) {
	b, err := appendUser(nil, directory.User{ID: "u", Attrs: directory.Attributes{"displayName": "Adele", "phones": []string{"1", "2"}}})
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := decodeUser(b[:n]); err == nil {
			t.Errorf("a record cut at %d of %d bytes decoded", n, len(b))
		}
	}
	if _, err := decodeUser(append(b, 0)); err == nil {
		t.Error("a record with a byte left over decoded")
	}
}

// TestOverlayLinks checks the dry run's links: the survey's, under what the
// dry run wrote and deleted, in source id order.
func TestOverlayLinks(t *testing.T) {
	ctx := context.Background()
	sp, err := newSpill()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	ts := &targetSurvey{links: newLinkIndex(sp), users: newUserIndex(sp)}
	for _, l := range []store.Link{
		{Target: "contoso", SourceID: "c", TargetID: "tc", State: store.LinkActive},
		{Target: "contoso", SourceID: "a", TargetID: "ta", State: store.LinkActive},
		{Target: "contoso", SourceID: "b", TargetID: "tb", State: store.LinkActive},
	} {
		if err := ts.links.put(l.SourceID, l); err != nil {
			t.Fatal(err)
		}
	}
	o := newOverlay(nil, &survey{targets: map[string]*targetSurvey{"contoso": ts}})
	list := func() []string {
		var out []string
		if err := o.ListLinks(ctx, "contoso", func(l store.Link) error { out = append(out, l.SourceID+"="+l.TargetID); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := list(), []string{"a=ta", "b=tb", "c=tc"}; !slices.Equal(got, want) {
		t.Errorf("surveyed links %v, want %v", got, want)
	}
	if _, err := o.PutLink(ctx, store.Link{Target: "contoso", SourceID: "b", TargetID: "tb2"}); err != nil {
		t.Fatal(err)
	}
	if _, err := o.PutLink(ctx, store.Link{Target: "contoso", SourceID: "d", TargetID: "td"}); err != nil {
		t.Fatal(err)
	}
	if err := o.DeleteLink(ctx, store.Link{Target: "contoso", SourceID: "a"}); err != nil {
		t.Fatal(err)
	}
	if got, want := list(), []string{"b=tb2", "c=tc", "d=td"}; !slices.Equal(got, want) {
		t.Errorf("links after the dry run's writes %v, want %v", got, want)
	}
	tests := []struct {
		sourceID, wantTarget string
		wantErr              error
	}{
		{"a", "", store.ErrNotFound}, // deleted by the dry run
		{"b", "tb2", nil},            // replaced
		{"c", "tc", nil},             // as surveyed
		{"d", "td", nil},             // created
		{"e", "", store.ErrNotFound}, // never
	}
	for _, tc := range tests {
		l, err := o.GetLink(ctx, "contoso", tc.sourceID)
		if !errors.Is(err, tc.wantErr) || l.TargetID != tc.wantTarget {
			t.Errorf("GetLink %s: %q, %v; want %q, %v", tc.sourceID, l.TargetID, err, tc.wantTarget, tc.wantErr)
		}
	}
	byTarget := []struct {
		targetID, wantSource string
		wantErr              error
	}{
		{"ta", "", store.ErrNotFound}, {"tb", "", store.ErrNotFound}, {"tb2", "b", nil}, {"tc", "c", nil}, {"td", "d", nil},
	}
	for _, tc := range byTarget {
		l, err := o.GetLinkByTargetID(ctx, "contoso", tc.targetID)
		if !errors.Is(err, tc.wantErr) || l.SourceID != tc.wantSource {
			t.Errorf("GetLinkByTargetID %s: %q, %v; want %q, %v", tc.targetID, l.SourceID, err, tc.wantSource, tc.wantErr)
		}
	}
	// Deleted, then written again.
	if _, err := o.PutLink(ctx, store.Link{Target: "contoso", SourceID: "a", TargetID: "ta2"}); err != nil {
		t.Fatal(err)
	}
	if l, err := o.GetLink(ctx, "contoso", "a"); err != nil || l.TargetID != "ta2" {
		t.Errorf("GetLink a after a new write: %q, %v", l.TargetID, err)
	}
}

func TestParseGUID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{"0f8fad5b-d9cb-469f-a165-70867728950e", true},
		{"00000000-0000-0000-0000-000000000000", true},
		{"0F8FAD5B-D9CB-469F-A165-70867728950E", false}, // not canonical: String would not give it back
		{"0f8fad5bd9cb469fa16570867728950e", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950e0", false},
		{"0f8fad5b_d9cb-469f-a165-70867728950e", false},
		{"0f8fad5b-d9cb-469f-a165-70867728950g", false},
		{"alice@fabrikam.example", false},
		{"", false},
	}
	for _, tc := range tests {
		g, ok := parseGUID(tc.id)
		if ok != tc.ok {
			t.Errorf("parseGUID(%q): ok %v, want %v", tc.id, ok, tc.ok)
		}
		if ok && g.String() != tc.id {
			t.Errorf("parseGUID(%q).String() = %q", tc.id, g.String())
		}
	}
	// Every id comes back as it was given, GUID or not.
	sp, err := newSpill()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	idx := newUserIndex(sp)
	var want []string
	for _, tc := range tests {
		if err := idx.put(tc.id, directory.User{ID: tc.id}); err != nil {
			t.Fatal(err)
		}
		want = append(want, tc.id)
	}
	var got []string
	if err := idx.each(func(id string, u directory.User) error {
		if u.ID != id {
			t.Errorf("record %q under id %q", u.ID, id)
		}
		got = append(got, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("ids %q, want %q", got, want)
	}
	if idx.len() != len(want) || !idx.has("0F8FAD5B-D9CB-469F-A165-70867728950E") || !idx.has("0f8fad5b-d9cb-469f-a165-70867728950e") {
		t.Errorf("len %d, want %d, with both spellings of the GUID apart", idx.len(), len(want))
	}
}

// TestFindUsersInTheSurvey checks the dry run's matching reads: by anchor,
// mail and otherMails, case-insensitively, in listing order, from an index
// built on the first read; a user listed twice is found under what either
// listing said, as its latest self.
func TestFindUsersInTheSurvey(t *testing.T) {
	ctx := context.Background()
	sp, err := newSpill()
	if err != nil {
		t.Fatal(err)
	}
	defer sp.close()
	const anchor = "onPremisesExtensionAttributes.extensionAttribute15"
	ts := &targetSurvey{links: newLinkIndex(sp), users: newUserIndex(sp), heap: map[int]directory.User{}, anchor: anchor}
	for _, u := range []directory.User{
		{ID: "u1", Attrs: directory.Attributes{anchor: "tenantsync:f:S1", "mail": "Adele@Contoso.example"}},
		{ID: "u2", Attrs: directory.Attributes{"mail": "alex@contoso.example", "otherMails": []string{"ALEX@contoso.example", "a.w@contoso.example"}}},
		{ID: "u3", Attrs: directory.Attributes{anchor: "tenantsync:f:s1", "weight": 1.5}}, // kept in the heap
		{ID: "u4", Attrs: directory.Attributes{"mail": "old@contoso.example"}},
		{ID: "u4", Attrs: directory.Attributes{"mail": "new@contoso.example"}}, // listed again, changed
	} {
		if err := ts.list(u); err != nil {
			t.Fatal(err)
		}
	}
	if ts.byAnchor != nil || ts.byMail != nil {
		t.Fatal("the index was built before a read needed it")
	}
	d := dryTarget{ts: ts}
	tests := []struct {
		conds []Cond
		want  []string
	}{
		{[]Cond{{Attr: anchor, Value: "TENANTSYNC:F:S1"}}, []string{"u1", "u3"}},
		{[]Cond{{Attr: "mail", Value: "adele@contoso.example"}}, []string{"u1"}},
		{[]Cond{{Attr: "otherMails", Value: "A.W@contoso.example"}}, []string{"u2"}},
		{[]Cond{{Attr: "mail", Value: "alex@contoso.example"}, {Attr: "otherMails", Value: "alex@contoso.example"}}, []string{"u2"}},
		{[]Cond{{Attr: "mail", Value: "old@contoso.example"}}, []string{"u4"}},
		{[]Cond{{Attr: "mail", Value: "new@contoso.example"}}, []string{"u4"}},
		{[]Cond{{Attr: "mail", Value: "nobody@contoso.example"}}, nil},
		{[]Cond{{Attr: anchor, Value: "tenantsync:f:s1"}, {Attr: "mail", Value: "adele@contoso.example"}}, []string{"u1", "u3"}},
	}
	for _, tc := range tests {
		users, err := d.FindUsers(ctx, tc.conds, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, u := range users {
			got = append(got, u.ID)
			if u.ID == "u4" && u.Attrs["mail"] != "new@contoso.example" {
				t.Errorf("u4 found as %v, want its latest listing", u.Attrs)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("FindUsers %v = %v, want %v", tc.conds, got, tc.want)
		}
	}
}

// TestSpillLeavesNoFile checks that the survey's temporary file is gone
// once the pass has it open (where the system allows), and after close.
func TestSpillLeavesNoFile(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	sp, err := newSpill()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.put([]byte("record")); err != nil {
		t.Fatal(err)
	}
	if b, err := sp.get(spillRef{off: 0, n: 6}); err != nil || string(b) != "record" {
		t.Fatalf("get: %q, %v", b, err)
	}
	if err := sp.close(); err != nil {
		t.Fatal(err)
	}
	left, err := os.ReadDir(os.Getenv("TMPDIR"))
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}
