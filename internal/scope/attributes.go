package scope

import (
	"regexp"
	"strconv"
	"strings"
)

// kind is the type of a user attribute's values, as internal/directory
// normalises them.
type kind int

const (
	kindUnknown kind = iota // an extension property: any type
	kindString
	kindBool
	kindList // multi-valued: []string
)

// userAttributes are the properties of the Microsoft Graph user resource
// (v1.0) a scoping clause can test, by their canonical spelling. Properties of
// complex types are flattened with a dot, as internal/directory does.
// Knowing them lets Compile catch a misspelt attribute: in Entra a clause on
// an attribute the user lacks is simply false, and a typo would put every user
// out of scope and deprovision them.
var userAttributes = func() map[string]kind {
	m := map[string]kind{
		"accountEnabled":                  kindBool,
		"ageGroup":                        kindString,
		"businessPhones":                  kindList,
		"city":                            kindString,
		"companyName":                     kindString,
		"consentProvidedForMinor":         kindString,
		"country":                         kindString,
		"createdDateTime":                 kindString,
		"creationType":                    kindString,
		"department":                      kindString,
		"displayName":                     kindString,
		"employeeHireDate":                kindString,
		"employeeId":                      kindString,
		"employeeLeaveDateTime":           kindString,
		"employeeOrgData.costCenter":      kindString,
		"employeeOrgData.division":        kindString,
		"employeeType":                    kindString,
		"externalUserState":               kindString,
		"externalUserStateChangeDateTime": kindString,
		"faxNumber":                       kindString,
		"givenName":                       kindString,
		"id":                              kindString,
		"imAddresses":                     kindList,
		"isResourceAccount":               kindBool,
		"jobTitle":                        kindString,
		"legalAgeGroupClassification":     kindString,
		"mail":                            kindString,
		"mailNickname":                    kindString,
		"mobilePhone":                     kindString,
		"officeLocation":                  kindString,
		"onPremisesDistinguishedName":     kindString,
		"onPremisesDomainName":            kindString,
		"onPremisesImmutableId":           kindString,
		"onPremisesLastSyncDateTime":      kindString,
		"onPremisesSamAccountName":        kindString,
		"onPremisesSecurityIdentifier":    kindString,
		"onPremisesSyncEnabled":           kindBool,
		"onPremisesUserPrincipalName":     kindString,
		"otherMails":                      kindList,
		"passwordPolicies":                kindString,
		"postalCode":                      kindString,
		"preferredDataLocation":           kindString,
		"preferredLanguage":               kindString,
		"proxyAddresses":                  kindList,
		"securityIdentifier":              kindString,
		"showInAddressList":               kindBool,
		"state":                           kindString,
		"streetAddress":                   kindString,
		"surname":                         kindString,
		"usageLocation":                   kindString,
		"userPrincipalName":               kindString,
		"userType":                        kindString,
	}
	for i := 1; i <= 15; i++ {
		m["onPremisesExtensionAttributes.extensionAttribute"+strconv.Itoa(i)] = kindString
	}
	return m
}()

// canonicalAttribute maps a lower-cased attribute name to its canonical
// spelling.
var canonicalAttribute = func() map[string]string {
	m := make(map[string]string, len(userAttributes))
	for name := range userAttributes {
		m[strings.ToLower(name)] = name
	}
	return m
}()

// extensionProperty matches a directory extension property,
// extension_<app id without dashes>_<name>, whose type Compile cannot know.
var extensionProperty = regexp.MustCompile(`^extension_[0-9a-fA-F]{32}_[A-Za-z0-9_]+$`)

// extensionAttributeAlias matches Entra provisioning's flat spelling of the
// on-premises extension attributes, "extensionAttribute1".."extensionAttribute15".
var extensionAttributeAlias = regexp.MustCompile(`^(?i:extensionAttribute)([1-9]|1[0-5])$`)

// resolveAttribute returns the canonical name and kind of a clause attribute,
// and false when the name is not a user attribute.
func resolveAttribute(name string) (string, kind, bool) {
	if m := extensionAttributeAlias.FindStringSubmatch(name); m != nil {
		name = "onPremisesExtensionAttributes.extensionAttribute" + m[1]
	}
	if c, ok := canonicalAttribute[strings.ToLower(name)]; ok {
		return c, userAttributes[c], true
	}
	if extensionProperty.MatchString(name) {
		return name, kindUnknown, true
	}
	return "", kindUnknown, false
}
