package engine_test

import (
	"context"
	"fmt"
	"time"

	"github.com/tenantsync/tenantsync/internal/config"
	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/engine"
	"github.com/tenantsync/tenantsync/internal/engine/enginetest"
	"github.com/tenantsync/tenantsync/internal/store/boltstore"
)

// An engine over a source and a target tenant (here in memory; in
// production the Graph client of internal/graph) and a store syncs one user:
// the first sync invites them, the next one finds nothing to do.
func Example() {
	ctx := context.Background()
	source, target := enginetest.NewDirectory("fabrikam.example"), enginetest.NewDirectory("contoso.example")
	alice := source.AddUser(directory.Attributes{
		"userPrincipalName": "alice@fabrikam.example", "mail": "alice@fabrikam.example",
		"displayName": "Alice Archer", "userType": "Member", "accountEnabled": true,
	}, true)

	cfg := &config.Config{
		Source: config.Tenant{Tenant: "fabrikam.example"},
		Targets: []config.Target{{
			Name:   "contoso",
			Tenant: config.Tenant{Tenant: "contoso.example"},
			Scope:  config.Scope{Groups: []string{enginetest.GroupName}},
		}},
	}
	cfg.ApplyDefaults()
	st, err := boltstore.OpenTemp(nil)
	if err != nil {
		panic(err)
	}
	defer st.Close()
	eng, err := engine.New(engine.Options{
		Config:  cfg,
		Source:  source,
		Targets: map[string]engine.Target{"contoso": target},
		Store:   st,
		Now:     func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		panic(err)
	}
	for range 2 {
		res, err := eng.Sync(ctx, engine.Change{Kind: engine.KindUser, ID: alice})
		if err != nil {
			panic(err)
		}
		a := res.Actions[0]
		fmt.Printf("%s %s: %s\n", a.Op, a.UserPrincipalName, a.Reason)
	}
	// Output:
	// create alice@fabrikam.example: in scope: member of group "Cross-tenant sync" (id 00000000-0000-4000-8000-00000000a11a); invited alice@fabrikam.example
	// noop alice@fabrikam.example: in scope: member of group "Cross-tenant sync" (id 00000000-0000-4000-8000-00000000a11a); target user is up to date
}
