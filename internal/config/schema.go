package config

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/tenantsync/tenantsync/internal/expr"
)

// PropertyKind is the Graph type of a user property, as it matters to a
// mapping.
type PropertyKind string

const (
	KindString   PropertyKind = "String"
	KindBoolean  PropertyKind = "Boolean"
	KindInt      PropertyKind = "Int32"
	KindDate     PropertyKind = "DateTimeOffset"
	KindStrings  PropertyKind = "String collection"
	KindObject   PropertyKind = "complex type"          // a single object: name a part
	KindObjects  PropertyKind = "collection of objects" // nothing an expression can read
	KindRelation PropertyKind = "relationship"          // manager
)

// UserProperty is one property of Microsoft Graph's user resource (v1.0).
type UserProperty struct {
	Name string
	Kind PropertyKind
	// Writable is true when tenantsync may write the property to a target
	// user (a mapping's target).
	Writable bool
	// NotRead, when set, says why tenantsync cannot read the property from
	// the source (a mapping's source or expression), as in "it needs
	// AuditLog.Read.All".
	NotRead string
	// NotWritten, when set for a property that is not Writable, says why.
	NotWritten string
}

// Why a property is not read or not written, shared by several.
const (
	readOnly   = "Graph sets it: it is read-only"
	sharePoint = "it is a SharePoint profile property, which Graph returns only for one user at a time " +
		"($select on GET /users/{id}), not in the user lists and delta queries tenantsync reads the source with"
	objects = "it is a collection of objects, which the expression language cannot read"
)

// UserProperties returns the properties of Microsoft Graph's user resource,
// v1.0, with their types, as documented at
// https://learn.microsoft.com/graph/api/resources/user (Properties), and
// which of them tenantsync may write, as internal/mapping does
// (https://learn.microsoft.com/graph/api/user-update lists what Graph lets
// an app update). Complex properties are listed whole and by their parts,
// flattened with a dot as internal/directory does
// (employeeOrgData.costCenter). validate checks every mapping's source,
// expression and target against it, so that a misspelt or unreadable
// attribute fails here rather than in every sync.
func UserProperties() []UserProperty {
	w := func(name string, kind PropertyKind) UserProperty {
		return UserProperty{Name: name, Kind: kind, Writable: true}
	}
	r := func(name string, kind PropertyKind, notWritten string) UserProperty {
		return UserProperty{Name: name, Kind: kind, NotWritten: notWritten}
	}
	neither := func(name string, kind PropertyKind, notRead, notWritten string) UserProperty {
		return UserProperty{Name: name, Kind: kind, NotRead: notRead, NotWritten: notWritten}
	}
	props := []UserProperty{
		neither("aboutMe", KindString, sharePoint, sharePoint),
		w("accountEnabled", KindBoolean),
		w("ageGroup", KindString),
		neither("assignedLicenses", KindObjects, objects, "licenses are assigned with assignLicense, not synced"),
		neither("assignedPlans", KindObjects, objects, readOnly),
		neither("authorizationInfo", KindObject, "it is a complex property tenantsync does not read", "tenantsync does not write it"),
		neither("birthday", KindDate, sharePoint, sharePoint),
		w("businessPhones", KindStrings),
		w("city", KindString),
		w("companyName", KindString),
		w("consentProvidedForMinor", KindString),
		w("country", KindString),
		r("createdDateTime", KindDate, readOnly),
		r("creationType", KindString, readOnly),
		neither("customSecurityAttributes", KindObject, "it needs CustomSecAttributeAssignment.Read.All, which tenantsync does not have", "tenantsync does not write it"),
		r("deletedDateTime", KindDate, readOnly),
		w("department", KindString),
		w("displayName", KindString),
		w("employeeHireDate", KindDate),
		w("employeeId", KindString),
		w("employeeLeaveDateTime", KindDate),
		neither("employeeOrgData", KindObject, "it is a complex property: name a part, as in [employeeOrgData.costCenter]",
			"it is a complex property: map its parts, employeeOrgData.costCenter and employeeOrgData.division"),
		w("employeeOrgData.costCenter", KindString),
		w("employeeOrgData.division", KindString),
		w("employeeType", KindString),
		r("externalUserState", KindString, readOnly),
		r("externalUserStateChangeDateTime", KindString, readOnly),
		w("faxNumber", KindString),
		w("givenName", KindString),
		neither("hireDate", KindDate, sharePoint, sharePoint),
		r("id", KindString, readOnly),
		neither("identities", KindObjects, objects, "a B2B user's identities come from the invitation's redemption"),
		r("imAddresses", KindStrings, readOnly),
		neither("interests", KindStrings, sharePoint, sharePoint),
		r("isResourceAccount", KindBoolean, "Graph reserves it for future use"),
		w("jobTitle", KindString),
		r("lastPasswordChangeDateTime", KindDate, readOnly),
		r("legalAgeGroupClassification", KindString, readOnly),
		neither("licenseAssignmentStates", KindObjects, objects, readOnly),
		w("mail", KindString),
		neither("mailboxSettings", KindObject, "it needs MailboxSettings.Read, which tenantsync does not have", "tenantsync does not write it"),
		w("mailNickname", KindString),
		w(ManagerProperty, KindRelation),
		w("mobilePhone", KindString),
		neither("mySite", KindString, sharePoint, sharePoint),
		w("officeLocation", KindString),
		r("onPremisesDistinguishedName", KindString, readOnly),
		r("onPremisesDomainName", KindString, readOnly),
		neither("onPremisesExtensionAttributes", KindObject,
			"it is a complex property: name a part, as in [onPremisesExtensionAttributes.extensionAttribute1]",
			"it is a complex property: map its parts, onPremisesExtensionAttributes.extensionAttribute1 to 15"),
		r("onPremisesImmutableId", KindString, "only Microsoft Entra Connect and an administrator set it for a federated user; tenantsync does not"),
		r("onPremisesLastSyncDateTime", KindDate, readOnly),
		neither("onPremisesProvisioningErrors", KindObjects, objects, readOnly),
		r("onPremisesSamAccountName", KindString, readOnly),
		r("onPremisesSecurityIdentifier", KindString, readOnly),
		r("onPremisesSyncEnabled", KindBoolean, readOnly),
		r("onPremisesUserPrincipalName", KindString, readOnly),
		w("otherMails", KindStrings),
		r("passwordPolicies", KindString, "a B2B user signs in at home: tenantsync does not manage passwords"),
		neither("passwordProfile", KindObject, "Graph never returns a password", "a B2B user signs in at home: tenantsync does not manage passwords"),
		neither("pastProjects", KindStrings, sharePoint, sharePoint),
		w("postalCode", KindString),
		w("preferredDataLocation", KindString),
		w("preferredLanguage", KindString),
		neither("preferredName", KindString, sharePoint, sharePoint),
		neither("provisionedPlans", KindObjects, objects, readOnly),
		r("proxyAddresses", KindStrings, readOnly),
		neither("responsibilities", KindStrings, sharePoint, sharePoint),
		neither("schools", KindStrings, sharePoint, sharePoint),
		r("securityIdentifier", KindString, readOnly),
		neither("serviceProvisioningErrors", KindObjects, objects, readOnly),
		w("showInAddressList", KindBoolean),
		neither("signInActivity", KindObject, "it needs AuditLog.Read.All, which tenantsync does not have", readOnly),
		r("signInSessionsValidFromDateTime", KindDate, readOnly),
		neither("skills", KindStrings, sharePoint, sharePoint),
		w("state", KindString),
		w("streetAddress", KindString),
		w("surname", KindString),
		w("usageLocation", KindString),
		w("userPrincipalName", KindString),
		w("userType", KindString),
	}
	for i := 1; i <= 15; i++ {
		props = append(props, w("onPremisesExtensionAttributes.extensionAttribute"+strconv.Itoa(i), KindString))
	}
	return props
}

// ManagerProperty is the user's manager: a relationship, read and written
// as the manager's id by a reference mapping.
const ManagerProperty = "manager"

// extensionProperty matches a directory extension property,
// extension_<app id without dashes>_<name>, whose type is its own.
var extensionProperty = regexp.MustCompile(`^extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+$`)

// userProperty returns the property named exactly name.
func userProperty(name string) (UserProperty, bool) {
	for _, p := range UserProperties() {
		if p.Name == name {
			return p, true
		}
	}
	return UserProperty{}, false
}

// suggestProperty returns "did you mean …?" for a name that is not a
// property, or "".
func suggestProperty(name string, keep func(UserProperty) bool) string {
	if m := anchorAlias.FindStringSubmatch(name); m != nil {
		return `did you mean "onPremisesExtensionAttributes.extensionAttribute` + m[1] + `"? Graph nests the extension attributes`
	}
	var names []string
	for _, p := range UserProperties() {
		if keep(p) {
			names = append(names, p.Name)
		}
	}
	s := expr.Suggest(name, names)
	switch {
	case s == "":
		return ""
	case strings.EqualFold(s, name):
		return "did you mean " + strconv.Quote(s) + "? attribute names are case-sensitive"
	}
	return "did you mean " + strconv.Quote(s) + "?"
}

// sourceType says what tenantsync reads from a source attribute, for
// expr.Check: its type, or the problem and the fix.
func sourceType(name string) (expr.Type, string, string) {
	if extensionProperty.MatchString(name) {
		return expr.TypeAny, "", ""
	}
	p, ok := userProperty(name)
	if !ok {
		return expr.TypeAny, "unknown source attribute " + strconv.Quote(name),
			suggestProperty(name, func(p UserProperty) bool { return p.NotRead == "" })
	}
	if p.NotRead != "" {
		return expr.TypeAny, "source attribute " + strconv.Quote(name) + " cannot be read: " + p.NotRead, ""
	}
	switch p.Kind {
	case KindBoolean:
		return expr.TypeBool, "", ""
	case KindInt:
		return expr.TypeNumber, "", ""
	case KindStrings:
		return expr.TypeStrings, "", ""
	}
	// Dates arrive as ISO 8601 strings, and a manager as its id.
	return expr.TypeString, "", ""
}

// checkTarget says why a mapping's target cannot be written, with a fix,
// or returns "".
func checkTarget(name string) string {
	if extensionProperty.MatchString(name) {
		return ""
	}
	p, ok := userProperty(name)
	switch {
	case !ok:
		msg := "unknown target attribute " + strconv.Quote(name)
		if hint := suggestProperty(name, func(p UserProperty) bool { return p.Writable }); hint != "" {
			return msg + " (" + hint + ")"
		}
		return msg + ": not a Graph user property (learn.microsoft.com/graph/api/resources/user), " +
			"onPremisesExtensionAttributes.extensionAttribute1 to 15 or a directory extension (extension_<appId>_<name>)"
	case !p.Writable:
		return strconv.Quote(name) + " cannot be written: " + p.NotWritten
	}
	return ""
}
