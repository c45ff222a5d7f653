package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/tenantsync/tenantsync/internal/graphsim"
)

// tenants calls the simulator's Graph as an administrator of each tenant
// would, with plain HTTP: the story is the world changing around
// tenantsync, not tenantsync itself.
type tenants struct {
	base   string
	client *http.Client
}

func newTenants(simURL string) *tenants {
	return &tenants{base: simURL, client: &http.Client{Timeout: 10 * time.Second}}
}

func (t *tenants) call(ctx context.Context, domain, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+"/"+domain+"/v1.0"+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusNotFound {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

type member struct {
	ID             string `json:"id"`
	DisplayName    string `json:"displayName"`
	Mail           string `json:"mail"`
	Department     string `json:"department"`
	AccountEnabled bool   `json:"accountEnabled"`
	UserType       string `json:"userType"`
}

// targetUser finds the Contoso user invited for a Fabrikam address.
func (t *tenants) targetUser(ctx context.Context, mail string) (map[string]any, error) {
	var page struct{ Value []map[string]any }
	q := url.Values{
		"$filter": {"mail eq '" + mail + "'"},
		"$select": {"id,displayName,department,accountEnabled,mail"},
	}
	if _, err := t.call(ctx, graphsim.DemoTargetDomain, "GET", "/users?"+q.Encode(), nil, &page); err != nil {
		return nil, err
	}
	if len(page.Value) == 0 {
		return nil, nil
	}
	return page.Value[0], nil
}

// targetGroup finds Contoso's security group with this name and counts its
// user members; "" when there is none.
func (t *tenants) targetGroup(ctx context.Context, name string) (id string, members int, err error) {
	var groups struct {
		Value []struct {
			ID              string `json:"id"`
			SecurityEnabled bool   `json:"securityEnabled"`
			MailEnabled     bool   `json:"mailEnabled"`
		}
	}
	q := url.Values{"$filter": {"displayName eq '" + name + "'"}, "$select": {"id,securityEnabled,mailEnabled"}}
	if _, err := t.call(ctx, graphsim.DemoTargetDomain, "GET", "/groups?"+q.Encode(), nil, &groups); err != nil {
		return "", 0, err
	}
	switch {
	case len(groups.Value) == 0:
		return "", 0, nil
	case len(groups.Value) > 1:
		return "", 0, fmt.Errorf("%d groups named %q in Contoso, want one", len(groups.Value), name)
	case !groups.Value[0].SecurityEnabled || groups.Value[0].MailEnabled:
		return "", 0, fmt.Errorf("group %q in Contoso is not a security group", name)
	}
	id = groups.Value[0].ID
	var page struct{ Value []struct{ ID string } }
	if _, err := t.call(ctx, graphsim.DemoTargetDomain, "GET", "/groups/"+id+"/members/microsoft.graph.user?$top=999&$select=id", nil, &page); err != nil {
		return "", 0, err
	}
	return id, len(page.Value), nil
}

// story is the scenario the demo plays.
type story struct {
	t       *tenants
	timeout time.Duration
	out     io.Writer
	lastUPN string
}

func (s *story) play(ctx context.Context) ([]StepResult, error) {
	src := graphsim.DemoSourceDomain
	var groups struct{ Value []struct{ ID string } }
	q := url.Values{"$filter": {"displayName eq '" + graphsim.ScopingGroup + "'"}}
	if _, err := s.t.call(ctx, src, "GET", "/groups?"+q.Encode(), nil, &groups); err != nil || len(groups.Value) != 1 {
		return nil, fmt.Errorf("find the scoping group: %v", err)
	}
	group := groups.Value[0].ID
	var members struct{ Value []member }
	if _, err := s.t.call(ctx, src, "GET", "/groups/"+group+"/members/microsoft.graph.user?$top=999&$select=id,displayName,mail,department,accountEnabled,userType", nil, &members); err != nil {
		return nil, err
	}
	var cast []member
	for _, m := range members.Value {
		if m.UserType == "Member" && m.AccountEnabled && m.Mail != "" && m.Department == "Sales" {
			cast = append(cast, m)
		}
	}
	if len(cast) < 4 {
		return nil, fmt.Errorf("the demo tenant has only %d enabled Sales members in scope", len(cast))
	}
	mover, quitter, leaver, dropped := cast[0], cast[1], cast[2], cast[3]
	// A deprovision (a delete or a disable) waits out the deletion guard's
	// settle delay, so that a mass removal is held whole.
	afterDelay := fmt.Sprintf(" (after the %s settle delay)", SettleDelay)
	ada := "ada.lovelace@" + src
	s.lastUPN = ada

	steps := []struct {
		what   string
		change func() error
		done   func(u map[string]any) bool
		mail   string
	}{
		{
			what: "Ada Lovelace joins Fabrikam's Sales team (and Cross-tenant sync) → invited into Contoso",
			mail: ada,
			change: func() error {
				var u struct{ ID string }
				if _, err := s.t.call(ctx, src, "POST", "/users", map[string]any{
					"accountEnabled": true, "displayName": "Ada Lovelace", "givenName": "Ada", "surname": "Lovelace",
					"mailNickname": "ada.lovelace", "userPrincipalName": ada, "mail": ada, "department": "Sales",
					"jobTitle": "Account Executive", "usageLocation": "GB",
					"passwordProfile": map[string]any{"password": rand.Text(), "forceChangePasswordNextSignIn": true},
				}, &u); err != nil {
					return err
				}
				_, err := s.t.call(ctx, src, "POST", "/groups/"+group+"/members/$ref",
					map[string]any{"@odata.id": s.t.base + "/" + src + "/v1.0/directoryObjects/" + u.ID}, nil)
				return err
			},
			done: func(u map[string]any) bool { return u != nil },
		},
		{
			what: mover.DisplayName + " moves from Sales to Marketing → department updated in Contoso",
			mail: mover.Mail,
			change: func() error {
				_, err := s.t.call(ctx, src, "PATCH", "/users/"+mover.ID, map[string]any{"department": "Marketing"}, nil)
				return err
			},
			done: func(u map[string]any) bool { return u != nil && u["department"] == "Marketing" },
		},
		{
			what: quitter.DisplayName + " is disabled in Fabrikam → disabled in Contoso" + afterDelay,
			mail: quitter.Mail,
			change: func() error {
				_, err := s.t.call(ctx, src, "PATCH", "/users/"+quitter.ID, map[string]any{"accountEnabled": false}, nil)
				return err
			},
			done: func(u map[string]any) bool { return u != nil && u["accountEnabled"] == false },
		},
		{
			what: leaver.DisplayName + " leaves Fabrikam (user deleted) → removed from Contoso" + afterDelay,
			mail: leaver.Mail,
			change: func() error {
				_, err := s.t.call(ctx, src, "DELETE", "/users/"+leaver.ID, nil, nil)
				return err
			},
			done: func(u map[string]any) bool { return u == nil },
		},
		{
			what: dropped.DisplayName + " is taken out of Cross-tenant sync → removed from Contoso" + afterDelay,
			mail: dropped.Mail,
			change: func() error {
				_, err := s.t.call(ctx, src, "DELETE", "/groups/"+group+"/members/"+dropped.ID+"/$ref", nil, nil)
				return err
			},
			done: func(u map[string]any) bool { return u == nil },
		},
	}
	var results []StepResult
	for _, st := range steps {
		if err := st.change(); err != nil {
			return results, fmt.Errorf("%s: %w", st.what, err)
		}
		start := time.Now()
		deadline := start.Add(s.timeout)
		for {
			u, err := s.t.targetUser(ctx, st.mail)
			if err != nil {
				return results, err
			}
			if st.done(u) {
				break
			}
			if time.Now().After(deadline) {
				return results, fmt.Errorf("%s: not in Contoso after %s; see the status page", st.what, s.timeout)
			}
			select {
			case <-ctx.Done():
				return results, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
		lat := time.Since(start)
		results = append(results, StepResult{What: st.what, Latency: lat})
		fmt.Fprintf(s.out, "  ✓ %-100s %6.2f s\n", st.what, lat.Seconds())
	}
	return results, nil
}
