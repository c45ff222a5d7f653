package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/directory"
	"github.com/tenantsync/tenantsync/internal/scope"
)

var (
	targetName = regexp.MustCompile(`^[a-z0-9-]+$`)
	guid       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	domainName = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))+$`)
	envName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// writableAnchor matches the string attributes of a B2B user that Graph
	// lets tenantsync write and nothing else writes by default: the
	// on-premises extension attributes of a cloud user, employeeType, and
	// directory extension properties. employeeId is left out: the default
	// mappings write it.
	writableAnchor = regexp.MustCompile(`^(onPremisesExtensionAttributes\.extensionAttribute([1-9]|1[0-5])|employeeType|extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+)$`)
	anchorAlias    = regexp.MustCompile(`^extensionAttribute([1-9]|1[0-5])$`)
)

// Validate checks a config and returns every problem at once as Errors, each
// naming its path (and its line, for a config that was parsed). A config
// built in code should have its defaults applied first (ApplyDefaults).
func (c *Config) Validate() error {
	l := &errorList{lines: c.lines, file: c.file}
	validateTenant(l, "source", &c.Source)
	if len(c.Targets) == 0 {
		l.add("targets", "at least one target is required")
	}
	names := map[string]int{}
	tenants := map[string]int{}
	for i := range c.Targets {
		t := &c.Targets[i]
		p := indexPath("targets", i)
		switch {
		case t.Name == "":
			l.add(p+".name", "required")
		case !targetName.MatchString(t.Name):
			l.add(p+".name", "must contain only a-z, 0-9 and -, got %q", t.Name)
		default:
			if j, dup := names[t.Name]; dup {
				l.add(p+".name", "%q is already the name of targets[%d]", t.Name, j)
			} else {
				names[t.Name] = i
			}
		}
		validateTenant(l, p, &t.Tenant)
		if key := strings.ToLower(t.Tenant.Tenant); key != "" {
			switch j, dup := tenants[key]; {
			case strings.EqualFold(t.Tenant.Tenant, c.Source.Tenant):
				l.add(p+".tenant", "is the source tenant; a target must be another tenant")
			case dup:
				l.add(p+".tenant", "%q is already the tenant of targets[%d]", t.Tenant.Tenant, j)
			default:
				tenants[key] = i
			}
		}
		validateTarget(l, p, t)
	}
	if len(l.errs) == 0 {
		return nil
	}
	l.errs.sortByLine()
	return l.errs
}

func validateTenant(l *errorList, p string, t *Tenant) {
	switch {
	case t.Tenant == "":
		l.add(p+".tenant", "required")
	case !guid.MatchString(t.Tenant) && !domainName.MatchString(t.Tenant):
		l.add(p+".tenant", "must be a tenant id (GUID) or a domain name, got %q", t.Tenant)
	}
	loopback := false
	if msg, lb := checkURL(t.Graph); msg != "" {
		l.add(p+".graph", "%s", msg)
	} else {
		loopback = lb
		u, _ := url.Parse(t.Graph)
		if v := u.Path[strings.LastIndex(u.Path, "/")+1:]; v != "v1.0" && v != "beta" {
			l.add(p+".graph", "must end with the Graph version, as in %s, got %q", DefaultGraph, t.Graph)
		}
	}
	validateAuth(l, p+".auth", &t.Auth, t.Graph, loopback)
}

// checkURL checks an absolute http(s) URL, https unless its host is a
// loopback address (the simulator), and reports whether it is loopback.
func checkURL(s string) (msg string, loopback bool) {
	if s == "" {
		return "required", false
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return fmt.Sprintf("must be an absolute http(s) URL, got %q", s), false
	}
	if u.User != nil {
		// Not echoed: user info may be a password.
		return "must not contain user info: credentials never go in a URL", false
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Sprintf("must not have a query or a fragment, got %q", s), false
	}
	loopback = isLoopback(u.Hostname())
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback:
	case u.Scheme == "http":
		return fmt.Sprintf("must use https (http is for a loopback address such as the simulator's), got %q", s), false
	default:
		return fmt.Sprintf("must be an absolute http(s) URL, got %q", s), false
	}
	return "", loopback
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authFields are the optional fields of Auth, and the methods that use each.
var authFields = []struct {
	key     string
	get     func(*Auth) string
	methods []AuthMethod
}{
	{"clientId", func(a *Auth) string { return a.ClientID }, []AuthMethod{AuthManagedIdentityFederated, AuthClientSecret, AuthCertificate}},
	{"managedIdentityClientId", func(a *Auth) string { return a.ManagedIdentityClientID }, []AuthMethod{AuthManagedIdentityFederated}},
	{"secretEnv", func(a *Auth) string { return a.SecretEnv }, []AuthMethod{AuthClientSecret}},
	{"path", func(a *Auth) string { return a.Path }, []AuthMethod{AuthCertificate}},
	{"passwordEnv", func(a *Auth) string { return a.PasswordEnv }, []AuthMethod{AuthCertificate}},
}

func validateAuth(l *errorList, p string, a *Auth, graph string, loopback bool) {
	switch a.Method {
	case AuthManagedIdentityFederated, AuthClientSecret, AuthCertificate, AuthAzureCLI:
	case AuthNone:
		if !loopback {
			l.add(p+".method", "none sends no token, so it is only for a loopback graph URL (the simulator), not %q", graph)
		}
	case "":
		l.add(p+".method", "required")
		return
	default:
		l.add(p+".method", "unknown method %q (want managedIdentityFederated, clientSecret, certificate, azureCli or none)", a.Method)
		return
	}
	for _, f := range authFields {
		v := f.get(a)
		used := false
		for _, m := range f.methods {
			used = used || m == a.Method
		}
		switch {
		case !used && v != "":
			l.add(p+"."+f.key, "not used by method %s", a.Method)
		case used && v == "" && f.key != "managedIdentityClientId" && f.key != "passwordEnv":
			l.add(p+"."+f.key, "required by method %s", a.Method)
		}
	}
	if a.ClientID != "" && !guid.MatchString(a.ClientID) {
		l.add(p+".clientId", "must be the application (client) id, a GUID, got %q", a.ClientID)
	}
	if a.ManagedIdentityClientID != "" && !guid.MatchString(a.ManagedIdentityClientID) {
		l.add(p+".managedIdentityClientId", "must be the managed identity's client id, a GUID, got %q", a.ManagedIdentityClientID)
	}
	if a.SecretEnv != "" && !envName.MatchString(a.SecretEnv) {
		// The value is not echoed: it may be the secret itself, pasted by mistake.
		l.add(p+".secretEnv", "must be the name of an environment variable holding the secret, not the secret itself")
	}
	if a.PasswordEnv != "" && !envName.MatchString(a.PasswordEnv) {
		l.add(p+".passwordEnv", "must be the name of an environment variable holding the certificate's password, not the password itself")
	}
}

func validateTarget(l *errorList, p string, t *Target) {
	switch t.UserType {
	case Member, Guest:
	default:
		l.add(p+".userType", "must be Member or Guest, got %q", t.UserType)
	}
	if msg, _ := checkURL(t.InviteRedirectURL); msg != "" {
		l.add(p+".inviteRedirectUrl", "%s", msg)
	}
	if t.InviteAddress == "" {
		l.add(p+".inviteAddress", "required")
	} else {
		checkExpression(l, p+".inviteAddress", t.InviteAddress)
	}
	anchor := canonicalAnchor(t.Anchor)
	switch {
	case anchor == "":
		l.add(p+".anchor", "required")
	case !writableAnchor.MatchString(anchor):
		l.add(p+".anchor", "must be a writable string attribute tenantsync alone writes: onPremisesExtensionAttributes.extensionAttribute1 to 15, employeeType, or a directory extension extension_<app id>_<name>; got %q", t.Anchor)
	default:
		for i, r := range t.Mappings {
			if !r.Ignore && strings.EqualFold(r.Target, anchor) {
				l.add(indexPath(p+".mappings", i)+".target", "%s is the anchor (%s.anchor); tenantsync writes it, a mapping must not", r.Target, p)
			}
		}
	}
	validateScope(l, p, t)
	checkMappings(l, p, t)
	validateDeprovision(l, p+".deprovision", &t.Deprovision)
	validateGroups(l, p, t)
}

func validateScope(l *errorList, target string, t *Target) {
	p := target + ".scope"
	s := &t.Scope
	if s.All && len(s.Groups) > 0 {
		l.add(p+".groups", "not used when scope.all is true: remove the groups, or set all: false to sync only their members")
	}
	seen := map[string]int{}
	for i, g := range s.Groups {
		gp := indexPath(p+".groups", i)
		key := strings.ToLower(strings.TrimSpace(g))
		switch j, dup := seen[key]; {
		case key == "":
			l.add(gp, "must be a group id or display name, not empty")
		case dup:
			l.add(gp, "%q is already scope.groups[%d]", g, j)
		default:
			seen[key] = i
		}
	}
	patterns := checkScopePatterns(l, p, s)
	// The group names stand in for ids here: only their presence matters to
	// compiling the filters and to SelectsNothing.
	compiled, err := scope.Compile(s.Spec(nil))
	if err != nil {
		for _, e := range unwrapAll(err) {
			var ce *scope.ClauseError
			switch {
			case errors.As(e, &ce) && patterns[ce.Path()]:
				// Said already, with the rewrite.
			case errors.As(e, &ce):
				l.add(p+"."+ce.Path(), "%s", scopeAttributeHint(ce, s))
			default:
				l.add(p+".filters", "%v", e)
			}
		}
		return
	}
	if len(patterns) > 0 {
		return
	}
	if why, nothing := compiled.SelectsNothing(); nothing && !s.AllowEmpty {
		fix := "set scope.all: true, list scope.groups or scope.filters"
		if len(s.Filters) > 0 {
			fix = "fix the filters"
		}
		l.add(p, "selects no users, so every user tenantsync manages in target %q would be deprovisioned (%s); %s, or set scope.allowEmpty: true if that is really what you want", t.Name, why, fix)
	}
}

// Spec returns the scope.Spec of this scope, with the groups the engine
// resolved from Groups (by id or display name). With groups nil, the
// configured names stand in for the ids, which is enough to compile the
// filters and to ask whether the scope selects anyone.
func (s Scope) Spec(groups []directory.Group) scope.Spec {
	spec := scope.Spec{All: s.All, IncludeGuests: s.IncludeGuests, IncludeExternal: s.IncludeExternal, Filters: s.Filters}
	if groups == nil {
		spec.GroupIDs = s.Groups
		return spec
	}
	spec.GroupNames = make(map[string]string, len(groups))
	for _, g := range groups {
		spec.GroupIDs = append(spec.GroupIDs, g.ID)
		spec.GroupNames[g.ID] = g.DisplayName
	}
	return spec
}

func validateDeprovision(l *errorList, p string, d *Deprovision) {
	switch d.Action {
	case DeprovisionDelete, DeprovisionDisable, DeprovisionNone:
	default:
		l.add(p+".action", "must be delete, disable or none, got %q", d.Action)
	}
	if d.Threshold < 0 || d.Threshold > MaxThreshold {
		l.add(p+".threshold", "must be from 0 to %d, got %d", MaxThreshold, d.Threshold)
	}
	if d.Delay != nil && (*d.Delay < 0 || time.Duration(*d.Delay) > 24*time.Hour) {
		l.add(p+".delay", "must be from 0 to 24h, got %s", compactDuration(time.Duration(*d.Delay)))
	}
	if d.Window <= 0 {
		l.add(p+".window", "must be more than 0, got %s", compactDuration(time.Duration(d.Window)))
	}
}

// canonicalAnchor spells an on-premises extension attribute in full:
// "extensionAttribute3" (as Entra writes it) is
// "onPremisesExtensionAttributes.extensionAttribute3".
func canonicalAnchor(a string) string {
	if m := anchorAlias.FindStringSubmatch(a); m != nil {
		return "onPremisesExtensionAttributes.extensionAttribute" + m[1]
	}
	return a
}

// unwrapAll returns the errors joined in err, or err alone.
func unwrapAll(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// compactDuration writes a duration as a config file has it: "25h", "-5m",
// "1h30m", not time.Duration's "25h0m0s".
func compactDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
