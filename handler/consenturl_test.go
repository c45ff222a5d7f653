package main

import (
	"testing"
)

func TestConsentURL(t *testing.T) {
	e := newTestEnv(t, configOptions{clientID: appID, closed: true})
	want := "Admin consent for contoso (tenant contoso.example), to be opened by one of its administrators:\n\n" +
		"  https://login.microsoftonline.com/contoso.example/adminconsent?client_id=" + appID + "\n"
	if out := e.mustRun("consent-url", "--target", "contoso"); out != want {
		t.Errorf("consent-url = %q\nwant          %q", out, want)
	}
	var res consentResult
	decodeJSON(t, e.mustRun("consent-url", "--target", "contoso", "--json"), &res)
	if res != (consentResult{Target: "contoso", Tenant: tgtDomain, ClientID: appID,
		URL: "https://login.microsoftonline.com/contoso.example/adminconsent?client_id=" + appID}) {
		t.Errorf("consent-url --json = %+v", res)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"consent-url", "--target", "closed"}, "error: target closed: auth method none has no clientId: admin consent is for a multi-tenant app (auth.clientId)"},
		{[]string{"consent-url", "--target", "nope"}, `error: unknown target "nope" (configured: contoso, closed)`},
		{[]string{"consent-url"}, "error: --target is required"},
	} {
		e.run(tt.args...).wantError(t, tt.want)
	}
}
