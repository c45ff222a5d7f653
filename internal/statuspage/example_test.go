package statuspage_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// The page mounts like any http.Handler: at "/" in `handler local`, at
// /api/status behind the Status function in Azure.
func ExampleNew() {
	st, err := boltstore.OpenTemp(nil)
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	page, err := statuspage.New(statuspage.Options{
		Store:        st,
		SourceTenant: "fabrikam.example",
		Targets:      []string{"contoso"},
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/status", page)

	for _, target := range []string{"/api/status", "/api/status?format=json", "/api/status?target=nope"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, target, nil))
		fmt.Println(target, rec.Code, rec.Header().Get("Content-Type"))
	}
	// Output:
	// /api/status 200 text/html; charset=utf-8
	// /api/status?format=json 200 application/json; charset=utf-8
	// /api/status?target=nope 404 text/plain; charset=utf-8
}
