// Package consent builds the admin-consent URL that an administrator of a
// target tenant opens to grant tenantsync's multi-tenant app its application
// permissions in that tenant.
//
// The source deployment cannot grant permissions in another tenant, so each
// target's administrator must consent once. The same URL is printed by the
// azd postprovision hook (infra/hooks) from the Bicep output
// TENANTSYNC_CONSENT_URL_TEMPLATE and by `handler consent-url`; both are built
// to the format of URL and a test holds them together.
//
// See "Grant tenant-wide admin consent to an application" on Microsoft Learn:
// https://login.microsoftonline.com/{organization}/adminconsent?client_id={client-id}
package consent

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// DefaultAuthority is the Microsoft Entra authority of the public cloud.
const DefaultAuthority = "https://login.microsoftonline.com"

// TenantPlaceholder stands for the target tenant in a URL template.
const TenantPlaceholder = "{tenant}"

// URLOptions are the optional parts of a consent URL.
type URLOptions struct {
	// Authority is the Entra login endpoint; empty means DefaultAuthority.
	// National clouds have their own (https://login.microsoftonline.us, ...).
	Authority string
	// RedirectURI is where Entra sends the administrator after consenting. It
	// must be one of the app's registered redirect URIs; empty leaves it out
	// and Entra uses the app's first registered one.
	RedirectURI string
}

var (
	guidPattern   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainPattern = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))+$`)
)

// ErrInvalid is wrapped by every error about a malformed argument.
var ErrInvalid = errors.New("invalid consent URL argument")

// URL returns the admin-consent URL for the app clientID in tenant, a tenant
// id (GUID) or a verified domain of the target tenant.
func URL(tenant, clientID string, opts *URLOptions) (string, error) {
	if err := checkTenant(tenant); err != nil {
		return "", err
	}
	t, err := Template(clientID, opts)
	if err != nil {
		return "", err
	}
	return strings.Replace(t, TenantPlaceholder, tenant, 1), nil
}

// Template returns the admin-consent URL for the app clientID with
// TenantPlaceholder where the target tenant goes; the Bicep output
// TENANTSYNC_CONSENT_URL_TEMPLATE has the same form.
func Template(clientID string, opts *URLOptions) (string, error) {
	if !guidPattern.MatchString(clientID) {
		return "", fmt.Errorf("%w: client id %q is not a GUID (the Application (client) ID of the app)", ErrInvalid, clientID)
	}
	var o URLOptions
	if opts != nil {
		o = *opts
	}
	authority := strings.TrimRight(o.Authority, "/")
	if authority == "" {
		authority = DefaultAuthority
	}
	if u, err := url.Parse(authority); err != nil || u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: authority %q is not an https URL without query", ErrInvalid, o.Authority)
	}
	var b strings.Builder
	b.WriteString(authority)
	b.WriteString("/" + TenantPlaceholder + "/adminconsent?client_id=")
	b.WriteString(strings.ToLower(clientID))
	if o.RedirectURI != "" {
		if u, err := url.Parse(o.RedirectURI); err != nil || !u.IsAbs() {
			return "", fmt.Errorf("%w: redirect URI %q is not an absolute URL", ErrInvalid, o.RedirectURI)
		}
		b.WriteString("&redirect_uri=")
		b.WriteString(EscapeComponent(o.RedirectURI))
	}
	return b.String(), nil
}

func checkTenant(tenant string) error {
	switch strings.ToLower(tenant) {
	case "common", "organizations", "consumers":
		return fmt.Errorf("%w: tenant %q: consent must name the target tenant (its id or a verified domain)", ErrInvalid, tenant)
	}
	if guidPattern.MatchString(tenant) || (len(tenant) <= 253 && domainPattern.MatchString(tenant)) {
		return nil
	}
	return fmt.Errorf("%w: tenant %q is neither a tenant id (GUID) nor a domain", ErrInvalid, tenant)
}

// EscapeComponent escapes s as JavaScript's encodeURIComponent does, which is
// also what Bicep's uriComponent function does: everything but letters,
// digits and - _ . ! ~ * ' ( ) is percent-encoded as UTF-8. It differs from
// url.QueryEscape, which writes a space as "+" and escapes ! ' ( ) *.
func EscapeComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			strings.IndexByte("-_.!~*'()", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
