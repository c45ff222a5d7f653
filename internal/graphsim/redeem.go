package graphsim

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Redemption. An invited user stays externalUserState PendingAcceptance
// until they redeem the invitation in a browser, which no Graph API does
// (https://learn.microsoft.com/graph/api/resources/invitation: "Currently,
// no API is available to perform the redemption process"). The admin API
// stands in for the invited person.

// Redemption says how an invited user redeemed their invitation.
type Redemption struct {
	// With is the identity provider the user signed in with: "entra" (a
	// work or school account of another Microsoft Entra organization),
	// "microsoftAccount" (a personal Microsoft account) or "emailOtp" (an
	// email one-time passcode).
	With string `json:"with"`
	// Issuer is the domain of the Microsoft Entra organization, for
	// With "entra".
	Issuer string `json:"issuer,omitempty"`
}

// Issuers of the identity a redemption adds. The objectIdentity resource
// (https://learn.microsoft.com/graph/api/resources/objectidentity#properties)
// documents the issuer only for guests from another Microsoft Entra
// organization: "the domain of the federated organization". For a personal
// Microsoft account the simulator uses the identity provider type
// MicrosoftAccount of builtInIdentityProvider
// (https://learn.microsoft.com/graph/api/resources/builtinidentityprovider),
// and for an email one-time passcode "mail", the issuer objectIdentity's
// filtering section names ("Filtering on issuer alone is supported for ...
// mail"), with the address as issuerAssignedId. docs/simulator.md records
// these choices.
const (
	issuerMicrosoftAccount = "MicrosoftAccount"
	issuerEmailOTP         = "mail"
)

// objectIdentity is one entry of a user's identities.
type objectIdentity struct {
	SignInType       string  `json:"signInType"`
	Issuer           string  `json:"issuer"`
	IssuerAssignedID *string `json:"issuerAssignedId"`
}

// identity returns the identity a redemption adds for a user whose
// invited address is addr.
func (r Redemption) identity(addr string) (objectIdentity, error) {
	id := objectIdentity{SignInType: "federated"}
	switch strings.ToLower(r.With) {
	case "entra":
		if strings.TrimSpace(r.Issuer) == "" {
			return id, fmt.Errorf("redeem with entra: issuer (the organization's domain) is required")
		}
		id.Issuer = strings.TrimSpace(r.Issuer)
	case "microsoftaccount":
		id.Issuer = issuerMicrosoftAccount
	case "emailotp":
		id.Issuer = issuerEmailOTP
		id.IssuerAssignedID = &addr
	default:
		return id, fmt.Errorf("redeem with %q: want entra, microsoftAccount or emailOtp", r.With)
	}
	return id, nil
}

// Redeem redeems the invitation of an invited user (by id or
// userPrincipalName): externalUserState becomes Accepted,
// externalUserStateChangeDateTime the simulated time, and identities gain
// the federated identity of the redemption in place of any earlier one.
// The change is in the tenant's change log (delta) and notifications at
// once; an admin call never lags.
func (s *Server) Redeem(tenant, user string, r Redemption) error {
	t := s.lookupTenant(tenant)
	if t == nil {
		return fmt.Errorf("redeem: %s: %w", tenant, ErrUnknownTenant)
	}
	now := s.clock.now()
	t.mu.Lock()
	u := t.lookupUser(user)
	if u == nil {
		t.mu.Unlock()
		return fmt.Errorf("redeem: no user %s in %s", user, tenant)
	}
	if u.str(pCreationType) != "Invitation" && u.v[pExternalUserState] == nil {
		t.mu.Unlock()
		return fmt.Errorf("redeem: %s is not an invited user", user)
	}
	addr := u.str(pMail)
	if addr == "" {
		addr = u.upn()
	}
	id, err := r.identity(addr)
	if err != nil {
		t.mu.Unlock()
		return fmt.Errorf("redeem %s: %w", user, err)
	}
	var ids []objectIdentity
	if raw, ok := u.v[pIdentities].(json.RawMessage); ok {
		_ = json.Unmarshal(raw, &ids)
	}
	kept := ids[:0]
	for _, o := range ids {
		if o.SignInType != "federated" {
			kept = append(kept, o)
		}
	}
	raw, _ := json.Marshal(append(kept, id))
	u.v[pExternalUserState] = "Accepted"
	u.v[pExternalUserStateChangeDateTime] = graphTime(now)
	u.v[pIdentities] = json.RawMessage(raw)
	t.recordNow(change{kind: objUser, op: opUpdate, id: u.id,
		mask: 1<<pExternalUserState | 1<<pExternalUserStateChangeDateTime | 1<<pIdentities})
	t.mu.Unlock()
	t.publish(event{kind: objUser, id: u.id, changeType: "updated"})
	return nil
}
