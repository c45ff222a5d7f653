package graphsim

import "strings"

// propKind is how a property's value is stored and written.
type propKind uint8

const (
	kString   propKind = iota // string
	kBool                     // bool
	kStrings                  // []string
	kDateTime                 // string in RFC 3339, UTC
	kExt                      // *extAttrs (onPremisesExtensionAttributes)
	kRaw                      // json.RawMessage: complex values kept as given
)

// level is how a $filter operator is supported on a property, after the
// table in https://learn.microsoft.com/graph/aad-advanced-queries.
type level uint8

const (
	no   level = iota // not supported: 400 Request_UnsupportedQuery
	dflt              // works by default
	adv               // needs ConsistencyLevel: eventual and $count=true
)

// filterSupport says which $filter operators a property supports. ne and not
// are advanced wherever eq is supported; in is supported wherever eq is,
// at the same level, unless in is listed.
type filterSupport struct {
	eq, rng, in, startsWith, null, endsWith level
}

// propDef describes one property of a directory object.
type propDef struct {
	name     string
	kind     propKind
	writable bool // can be set by POST or PATCH
	// seedOnly properties are read-only through the API but can be given
	// in a seed (createdDateTime, creationType, externalUserState, ...).
	seedOnly bool
	hidden   bool // write-only: accepted but never returned (passwordProfile)
	// ignored properties are accepted in writes and seeds but not kept:
	// Graph documents them as not for use through Microsoft Graph.
	ignored    bool
	array      bool // a kRaw collection: unset is [], as Graph writes it
	collection bool // filterable with any()
	filter     filterSupport
}

// User properties. The order of the constants is the order in which a
// snapshot writes them; the default $select order is defaultUserSelect.
const (
	pAccountEnabled = iota
	pAgeGroup
	pBusinessPhones
	pCity
	pCompanyName
	pConsentProvidedForMinor
	pCountry
	pCreatedDateTime
	pCreationType
	pDeletedDateTime
	pDepartment
	pDisplayName
	pEmployeeHireDate
	pEmployeeID
	pEmployeeOrgData
	pEmployeeType
	pExternalUserState
	pExternalUserStateChangeDateTime
	pFaxNumber
	pGivenName
	pIdentities
	pImAddresses
	pIsResourceAccount
	pJobTitle
	pLastPasswordChangeDateTime
	pLegalAgeGroupClassification
	pMail
	pMailNickname
	pMobilePhone
	pOfficeLocation
	pOnPremisesDistinguishedName
	pOnPremisesDomainName
	pOnPremisesExtensionAttributes
	pOnPremisesImmutableID
	pOnPremisesLastSyncDateTime
	pOnPremisesSamAccountName
	pOnPremisesSecurityIdentifier
	pOnPremisesSyncEnabled
	pOnPremisesUserPrincipalName
	pOtherMails
	pPasswordPolicies
	pPasswordProfile
	pPostalCode
	pPreferredDataLocation
	pPreferredLanguage
	pProxyAddresses
	pSecurityIdentifier
	pShowInAddressList
	pSignInSessionsValidFromDateTime
	pState
	pStreetAddress
	pSurname
	pUsageLocation
	pUserPrincipalName
	pUserType
	numUserProps
)

// pID is the pseudo index of the id property in a selection; id is not
// stored in the property array.
const pID = -1

var (
	fsAdvanced = filterSupport{eq: adv, rng: adv, in: adv, startsWith: adv, null: adv}
	fsText     = filterSupport{eq: dflt, rng: dflt, in: dflt, startsWith: dflt, null: adv}
	fsEqIn     = filterSupport{eq: dflt, in: dflt}
)

var userProps = [numUserProps]propDef{
	pAccountEnabled:                  {name: "accountEnabled", kind: kBool, writable: true, filter: filterSupport{eq: dflt, rng: adv, in: dflt}},
	pAgeGroup:                        {name: "ageGroup", kind: kString, writable: true, filter: fsEqIn},
	pBusinessPhones:                  {name: "businessPhones", kind: kStrings, writable: true, collection: true, filter: filterSupport{eq: dflt}},
	pCity:                            {name: "city", kind: kString, writable: true, filter: filterSupport{eq: dflt, rng: dflt, in: dflt, startsWith: dflt, null: adv}},
	pCompanyName:                     {name: "companyName", kind: kString, writable: true, filter: fsAdvanced},
	pConsentProvidedForMinor:         {name: "consentProvidedForMinor", kind: kString, writable: true, filter: fsEqIn},
	pCountry:                         {name: "country", kind: kString, writable: true, filter: fsText},
	pCreatedDateTime:                 {name: "createdDateTime", kind: kDateTime, seedOnly: true, filter: filterSupport{eq: dflt, rng: dflt, in: adv}},
	pCreationType:                    {name: "creationType", kind: kString, seedOnly: true, filter: fsEqIn},
	pDeletedDateTime:                 {name: "deletedDateTime", kind: kDateTime, seedOnly: true, filter: filterSupport{eq: dflt, rng: dflt, in: adv}},
	pDepartment:                      {name: "department", kind: kString, writable: true, filter: fsText},
	pDisplayName:                     {name: "displayName", kind: kString, writable: true, filter: filterSupport{eq: dflt, in: dflt, startsWith: dflt, null: adv}},
	pEmployeeHireDate:                {name: "employeeHireDate", kind: kDateTime, writable: true, filter: filterSupport{eq: adv, rng: adv, in: adv}},
	pEmployeeID:                      {name: "employeeId", kind: kString, writable: true, filter: filterSupport{eq: dflt, rng: adv, in: dflt, startsWith: dflt, null: adv}},
	pEmployeeOrgData:                 {name: "employeeOrgData", kind: kRaw, writable: true},
	pEmployeeType:                    {name: "employeeType", kind: kString, writable: true, filter: filterSupport{eq: adv, rng: adv, in: adv, startsWith: adv}},
	pExternalUserState:               {name: "externalUserState", kind: kString, seedOnly: true, filter: fsEqIn},
	pExternalUserStateChangeDateTime: {name: "externalUserStateChangeDateTime", kind: kDateTime, seedOnly: true},
	pFaxNumber:                       {name: "faxNumber", kind: kString, writable: true},
	pGivenName:                       {name: "givenName", kind: kString, writable: true, filter: fsText},
	pIdentities:                      {name: "identities", kind: kRaw, writable: true, array: true},
	pImAddresses:                     {name: "imAddresses", kind: kStrings, seedOnly: true, collection: true, filter: filterSupport{eq: dflt, rng: dflt, startsWith: dflt}},
	pIsResourceAccount:               {name: "isResourceAccount", kind: kBool, writable: true, filter: filterSupport{eq: dflt}},
	pJobTitle:                        {name: "jobTitle", kind: kString, writable: true, filter: filterSupport{eq: dflt, rng: dflt, in: dflt, null: adv}},
	pLastPasswordChangeDateTime:      {name: "lastPasswordChangeDateTime", kind: kDateTime, seedOnly: true},
	pLegalAgeGroupClassification:     {name: "legalAgeGroupClassification", kind: kString, seedOnly: true},
	pMail:                            {name: "mail", kind: kString, writable: true, filter: filterSupport{eq: dflt, rng: dflt, in: dflt, startsWith: dflt, endsWith: adv}},
	pMailNickname:                    {name: "mailNickname", kind: kString, writable: true, filter: fsText},
	pMobilePhone:                     {name: "mobilePhone", kind: kString, writable: true, filter: fsAdvanced},
	pOfficeLocation:                  {name: "officeLocation", kind: kString, writable: true, filter: fsAdvanced},
	pOnPremisesDistinguishedName:     {name: "onPremisesDistinguishedName", kind: kString, seedOnly: true},
	pOnPremisesDomainName:            {name: "onPremisesDomainName", kind: kString, seedOnly: true},
	pOnPremisesExtensionAttributes:   {name: "onPremisesExtensionAttributes", kind: kExt, writable: true, filter: filterSupport{eq: adv, rng: adv, in: adv}},
	pOnPremisesImmutableID:           {name: "onPremisesImmutableId", kind: kString, writable: true, filter: filterSupport{eq: adv, rng: adv, in: adv}},
	pOnPremisesLastSyncDateTime:      {name: "onPremisesLastSyncDateTime", kind: kDateTime, seedOnly: true, filter: filterSupport{eq: adv, rng: adv, in: adv}},
	pOnPremisesSamAccountName:        {name: "onPremisesSamAccountName", kind: kString, seedOnly: true, filter: filterSupport{eq: adv, rng: adv, in: adv, startsWith: adv}},
	pOnPremisesSecurityIdentifier:    {name: "onPremisesSecurityIdentifier", kind: kString, seedOnly: true, filter: filterSupport{eq: dflt, in: dflt, null: adv}},
	pOnPremisesSyncEnabled:           {name: "onPremisesSyncEnabled", kind: kBool, seedOnly: true, filter: filterSupport{eq: dflt, rng: adv, in: dflt}},
	pOnPremisesUserPrincipalName:     {name: "onPremisesUserPrincipalName", kind: kString, seedOnly: true, filter: filterSupport{eq: dflt, rng: dflt, in: dflt, startsWith: dflt}},
	pOtherMails:                      {name: "otherMails", kind: kStrings, writable: true, collection: true, filter: filterSupport{eq: dflt, rng: dflt, in: dflt, startsWith: dflt, endsWith: adv}},
	pPasswordPolicies:                {name: "passwordPolicies", kind: kString, writable: true, filter: filterSupport{eq: adv, null: adv}},
	pPasswordProfile:                 {name: "passwordProfile", kind: kRaw, writable: true, hidden: true},
	pPostalCode:                      {name: "postalCode", kind: kString, writable: true, filter: fsAdvanced},
	pPreferredDataLocation:           {name: "preferredDataLocation", kind: kString, writable: true},
	pPreferredLanguage:               {name: "preferredLanguage", kind: kString, writable: true, filter: fsAdvanced},
	pProxyAddresses:                  {name: "proxyAddresses", kind: kStrings, seedOnly: true, collection: true, filter: filterSupport{eq: dflt, rng: dflt, startsWith: dflt, null: adv, endsWith: adv}},
	pSecurityIdentifier:              {name: "securityIdentifier", kind: kString, seedOnly: true},
	// showInAddressList: "Do not use in Microsoft Graph. Manage this
	// property through the Microsoft 365 admin center instead."
	// (https://learn.microsoft.com/graph/api/resources/user#properties):
	// writes are accepted and ignored, reads return null.
	pShowInAddressList:               {name: "showInAddressList", kind: kBool, writable: true, hidden: true, ignored: true, filter: filterSupport{eq: adv, rng: adv, in: adv}},
	pSignInSessionsValidFromDateTime: {name: "signInSessionsValidFromDateTime", kind: kDateTime, seedOnly: true},
	pState:                           {name: "state", kind: kString, writable: true, filter: fsText},
	pStreetAddress:                   {name: "streetAddress", kind: kString, writable: true, filter: fsAdvanced},
	pSurname:                         {name: "surname", kind: kString, writable: true, filter: fsText},
	pUsageLocation:                   {name: "usageLocation", kind: kString, writable: true, filter: filterSupport{eq: dflt, rng: dflt, in: dflt, startsWith: dflt}},
	pUserPrincipalName:               {name: "userPrincipalName", kind: kString, writable: true, filter: filterSupport{eq: dflt, rng: dflt, in: dflt, startsWith: dflt, endsWith: adv}},
	pUserType:                        {name: "userType", kind: kString, writable: true, filter: filterSupport{eq: dflt, in: dflt, null: adv}},
}

// defaultUserSelect is what Graph v1.0 returns for a user without $select.
var defaultUserSelect = []int{
	pBusinessPhones, pDisplayName, pGivenName, pJobTitle, pMail, pMobilePhone,
	pOfficeLocation, pPreferredLanguage, pSurname, pUserPrincipalName, pID,
}

// userPropIndex maps lower-cased property names to their index.
var userPropIndex = func() map[string]int {
	m := make(map[string]int, numUserProps+1)
	for i, p := range userProps {
		m[strings.ToLower(p.name)] = i
	}
	m["id"] = pID
	return m
}()

// userPropExact maps property names as Graph spells them to their index;
// lookups try it before lower-casing.
var userPropExact = func() map[string]int {
	m := make(map[string]int, numUserProps)
	for i, p := range userProps {
		m[p.name] = i
	}
	return m
}()

// lookupUserProp finds a user property by name, case-insensitively.
func lookupUserProp(name string) (int, bool) {
	if i, ok := userPropExact[name]; ok {
		return i, true
	}
	i, ok := userPropIndex[strings.ToLower(name)]
	return i, ok
}

// idFilter is how id supports $filter on every directory object.
var idFilter = filterSupport{eq: dflt, in: dflt}

// numExtAttrs is the number of onPremisesExtensionAttributes.
const numExtAttrs = 15

// extAttrs are a user's onPremisesExtensionAttributes; nil entries are unset.
type extAttrs [numExtAttrs]*string

// extAttrIndex returns the index of "extensionAttributeN" (case-insensitive).
func extAttrIndex(name string) (int, bool) {
	const prefix = "extensionattribute"
	if len(name) <= len(prefix) || !strings.EqualFold(name[:len(prefix)], prefix) {
		return 0, false
	}
	n := 0
	for _, c := range name[len(prefix):] {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
		if n > numExtAttrs {
			return 0, false
		}
	}
	if n < 1 {
		return 0, false
	}
	return n - 1, true
}

// Group properties.
const (
	gClassification = iota
	gCreatedDateTime
	gDeletedDateTime
	gDescription
	gDisplayName
	gGroupTypes
	gIsAssignableToRole
	gMail
	gMailEnabled
	gMailNickname
	gMembershipRule
	gProxyAddresses
	gSecurityEnabled
	gSecurityIdentifier
	gUniqueName
	gVisibility
	numGroupProps
)

var groupProps = [numGroupProps]propDef{
	gClassification:     {name: "classification", kind: kString, writable: true, filter: fsEqIn},
	gCreatedDateTime:    {name: "createdDateTime", kind: kDateTime, seedOnly: true, filter: filterSupport{eq: adv, rng: adv, in: adv}},
	gDeletedDateTime:    {name: "deletedDateTime", kind: kDateTime, seedOnly: true},
	gDescription:        {name: "description", kind: kString, writable: true, filter: filterSupport{eq: adv, startsWith: adv}},
	gDisplayName:        {name: "displayName", kind: kString, writable: true, filter: filterSupport{eq: dflt, in: dflt, startsWith: dflt, null: adv}},
	gGroupTypes:         {name: "groupTypes", kind: kStrings, writable: true, collection: true, filter: filterSupport{eq: dflt}},
	gIsAssignableToRole: {name: "isAssignableToRole", kind: kBool, writable: true, filter: fsEqIn},
	gMail:               {name: "mail", kind: kString, seedOnly: true, filter: filterSupport{eq: dflt, in: dflt, startsWith: dflt}},
	gMailEnabled:        {name: "mailEnabled", kind: kBool, writable: true, filter: fsEqIn},
	gMailNickname:       {name: "mailNickname", kind: kString, writable: true, filter: filterSupport{eq: dflt, in: dflt, startsWith: dflt}},
	gMembershipRule:     {name: "membershipRule", kind: kString, writable: true},
	gProxyAddresses:     {name: "proxyAddresses", kind: kStrings, seedOnly: true, collection: true, filter: filterSupport{eq: dflt, startsWith: dflt}},
	gSecurityEnabled:    {name: "securityEnabled", kind: kBool, writable: true, filter: fsEqIn},
	gSecurityIdentifier: {name: "securityIdentifier", kind: kString, seedOnly: true},
	// uniqueName: "The unique identifier that can be assigned to a group
	// and used as an alternate key. Immutable. Read-only."
	// (https://learn.microsoft.com/graph/api/resources/group#properties). It
	// is assigned only by the upsert, PATCH /groups(uniqueName='…') with
	// Prefer: create-if-missing (groupupsert.go); POST and PATCH by id answer
	// that it is read-only. Graph documents no $filter on it, so none is
	// supported, and it is returned only when selected (stricter readings).
	gUniqueName: {name: "uniqueName", kind: kString, seedOnly: true},
	gVisibility: {name: "visibility", kind: kString, writable: true},
}

// gMembers is the pseudo property "members" in a groups delta $select.
const gMembers = numGroupProps

// defaultGroupSelect is what the simulator returns for a group without
// $select: the group properties it models, in Graph's order.
var defaultGroupSelect = []int{
	pID, gDeletedDateTime, gClassification, gCreatedDateTime, gDescription, gDisplayName,
	gGroupTypes, gIsAssignableToRole, gMail, gMailEnabled, gMailNickname, gMembershipRule,
	gProxyAddresses, gSecurityEnabled, gSecurityIdentifier, gVisibility,
}

var groupPropIndex = func() map[string]int {
	m := make(map[string]int, numGroupProps+1)
	for i, p := range groupProps {
		m[strings.ToLower(p.name)] = i
	}
	m["id"] = pID
	return m
}()
