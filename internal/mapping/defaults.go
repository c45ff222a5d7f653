package mapping

import (
	"fmt"
	"strings"
)

// ManagerAttribute is the reference attribute Map reports separately.
const ManagerAttribute = "manager"

// Defaults returns the default mappings, after Cross-Tenant Synchronization's
// "Provision Microsoft Entra ID Users": the profile attributes flow directly,
// showInAddressList is the constant true, and manager is a reference
// mapping. Every call returns a new slice.
//
// Differences from CTS (docs/expressions.md has the full list): userType is
// not a default mapping here but the target's userType setting, which the
// engine applies on create only (CTS's default userType mapping applies on
// create only too); a userType rule overrides it; CTS's internal alternativeSecurityIds matching attribute has no
// Graph equivalent (the engine matches by its links and anchor); isSoftDeleted
// is the engine's deprovisioning; userPrincipalName is not mapped, as a B2B
// user's UPN comes from the invitation; mailNickname, preferredLanguage and
// telephoneNumber (businessPhones in Graph v1.0 is mapped instead) are left
// to explicit rules; mail falls back to userPrincipalName, like the default
// invitation address, instead of flowing null.
func Defaults() []Rule {
	direct := []string{
		"displayName", "givenName", "surname", "jobTitle", "department", "companyName", "employeeId",
		"officeLocation", "city", "state", "country", "streetAddress", "postalCode", "mobilePhone", "businessPhones",
		"usageLocation", "accountEnabled",
	}
	rules := make([]Rule, 0, len(direct)+2)
	for _, a := range direct {
		rules = append(rules, Rule{Target: a, Source: a})
	}
	show := "true"
	rules = append(rules,
		// A B2B user's mail is where the invitation went: falling back to
		// the UPN (the default invitation address) keeps a source user
		// without mail from having the target's mail cleared.
		Rule{Target: "mail", Expression: "Coalesce([mail], [userPrincipalName])"},
		Rule{Target: "showInAddressList", Constant: &show},
		Rule{Target: ManagerAttribute, Source: ManagerAttribute},
	)
	return rules
}

// attrType is the Graph type of a target attribute, which decides how
// mapped values are normalised.
type attrType int

const (
	typeString attrType = iota
	typeBool
	typeStrings   // a collection of strings
	typeReference // manager
	typeAny       // directory extensions: whatever the expression gives
	typeUserType  // userType: Member or Guest
)

// targetType returns the type of a writable Graph user property, or an error
// naming the mistake.
func targetType(name string) (attrType, error) {
	switch name {
	case "accountEnabled", "showInAddressList":
		return typeBool, nil
	case "businessPhones", "otherMails":
		return typeStrings, nil
	case ManagerAttribute:
		return typeReference, nil
	case "userType":
		// Without a mapping, the target's userType setting applies on
		// create only, as Cross-Tenant Synchronization does; a mapping
		// (apply always by default) makes it flow on every update too.
		return typeUserType, nil
	case "ageGroup", "city", "companyName", "consentProvidedForMinor", "country", "department", "displayName",
		"employeeHireDate", "employeeLeaveDateTime", "employeeId", "employeeOrgData.costCenter",
		"employeeOrgData.division", "employeeType", "faxNumber", "givenName", "jobTitle", "mail", "mailNickname",
		"mobilePhone", "officeLocation", "postalCode", "preferredDataLocation", "preferredLanguage", "state",
		"streetAddress", "surname", "usageLocation", "userPrincipalName":
		return typeString, nil
	}
	if n, ok := strings.CutPrefix(name, "onPremisesExtensionAttributes.extensionAttribute"); ok {
		switch n {
		case "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15":
			return typeString, nil
		}
	}
	if strings.HasPrefix(name, "extension_") && len(name) > len("extension_") {
		return typeAny, nil
	}
	for _, known := range knownTargets {
		if strings.EqualFold(known, name) {
			return 0, fmt.Errorf("unknown target attribute %q (attribute names are case-sensitive here: did you mean %q?)", name, known)
		}
	}
	return 0, fmt.Errorf("unknown target attribute %q: not a writable Graph user property, "+
		"onPremisesExtensionAttributes.extensionAttribute1-15 or a directory extension (extension_<appId>_<name>)", name)
}

// knownTargets are the names targetType knows, for spelling suggestions.
var knownTargets = []string{
	"accountEnabled", "ageGroup", "businessPhones", "city", "companyName", "consentProvidedForMinor", "country",
	"department", "displayName", "employeeHireDate", "employeeLeaveDateTime", "employeeId",
	"employeeOrgData.costCenter", "employeeOrgData.division", "employeeType", "faxNumber", "givenName", "jobTitle",
	"mail", "mailNickname", "manager", "mobilePhone", "officeLocation", "otherMails", "postalCode",
	"preferredDataLocation", "preferredLanguage", "showInAddressList", "state", "streetAddress", "surname",
	"usageLocation", "userPrincipalName", "userType",
}
