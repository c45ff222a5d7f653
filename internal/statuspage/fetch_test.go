package statuspage

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFetch(t *testing.T) {
	h := seedHandler(t)
	srv := httptest.NewServer(h)
	defer srv.Close()
	s, err := Fetch(t.Context(), srv.Client(), srv.URL+"/api/status")
	if err != nil {
		t.Fatal(err)
	}
	want := getJSON(t, h, "/?format=json")
	if len(s.Targets) != len(want.Targets) || len(s.Targets) == 0 {
		t.Fatalf("Fetch: %d targets, want %d", len(s.Targets), len(want.Targets))
	}
	for i, ts := range s.Targets {
		if ts.Name != want.Targets[i].Name || ts.Links != want.Targets[i].Links {
			t.Errorf("target %d = %s %+v, want %s %+v", i, ts.Name, ts.Links, want.Targets[i].Name, want.Targets[i].Links)
		}
	}

	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	if _, err := Fetch(t.Context(), notFound.Client(), notFound.URL); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Fetch of a 404: %v, want an error naming 404", err)
	}
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
	defer html.Close()
	if _, err := Fetch(t.Context(), html.Client(), html.URL); err == nil || !strings.Contains(err.Error(), "decode") {
		t.Errorf("Fetch of HTML: %v, want a decode error", err)
	}
}
