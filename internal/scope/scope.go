// Package scope decides whether a source user is in scope for a target: the
// scoping filters of Entra provisioning (clauses AND'ed within a filter,
// filters OR'ed) and the group and user-type conditions around them.
//
// Compile turns a Spec into a *Scope; Evaluate decides for one user and says
// why in a Decision's Reason, which `plan` and `provision` print.
//
// # Operators
//
// The operators follow Microsoft's "Scoping users or groups to be provisioned
// with scoping filters". A clause on a null or empty attribute is false for
// every operator except IS NULL — NOT EQUALS and NOT REGEX MATCH included,
// as the documentation says ("Scoping filters will return false if the value
// is null / empty"). String comparisons are case sensitive and ordinal, as
// documented for EQUALS, NOT EQUALS and Includes (.NET String.Contains) and
// as .NET's String.EndsWith is for ENDS_WITH.
//
//   - EQUALS, NOT EQUALS: string equality; on a boolean attribute the value
//     is read as true or false (any case), on an integer as a number.
//   - IS TRUE, IS FALSE: a boolean attribute, or a string that reads "true"
//     or "false" in any case.
//   - IS NULL, IS NOT NULL: null, "" and an empty list are null.
//   - REGEX MATCH, NOT REGEX MATCH: the pattern matches anywhere in the value
//     (.NET Regex.IsMatch); anchor it with ^ and $ to match the whole value.
//   - Includes: the value contains the string. On a multi-valued attribute
//     (proxyAddresses, otherMails, …), which Entra does not filter on at all,
//     tenantsync is true when any element contains it.
//   - &, !&: bitwise on integers (an int64 attribute or a string of decimal
//     digits or 0x hexadecimal): & is true when every bit of the mask is set,
//     !& when not every bit is — the same for the usual one-bit mask. The
//     mask is decimal or 0x hexadecimal and not 0.
//   - ENDS_WITH: the value ends with the string.
//   - Greater_Than, Greater_Than_OR_EQUALS: the clause value is a decimal
//     integer, the attribute an integer or a string of decimal digits;
//     anything else is false.
//
// Operators are matched ignoring case, underscores and spaces ("not_equals"
// is NOT EQUALS). Attributes are Graph user property names, matched ignoring
// case; the on-premises extension attributes may be written as Entra writes
// them ("extensionAttribute1") or as internal/directory does
// ("onPremisesExtensionAttributes.extensionAttribute1"), and directory
// extension properties as extension_<app id>_<name>. An unknown name is a
// compile error, not a clause that is silently false for everyone.
//
// # Regular expressions
//
// Patterns are Go's RE2 syntax, not .NET's. RE2 guarantees linear time (no
// catastrophic backtracking) but lacks lookahead and lookbehind ((?=…),
// (?!…), (?<=…), (?<!…)), backreferences (\1, \k<name>), atomic groups
// ((?>…)), possessive quantifiers, conditionals, balancing groups, character
// class subtraction ([a-z-[aeiou]]), \G, \Z and inline comments (?#…); such
// patterns fail to compile with an error that says so. Patterns that compile
// in both can still differ: in RE2, \d, \w, \s and \b are ASCII-only (in
// .NET they are Unicode-aware), and $ matches only at the very end of the text
// (in .NET also before a final newline). (?i), (?m), (?s), named groups
// (?P<name>…) and (?<name>…), and \p{…} classes work in both.
//
// # Groups and guests
//
// A Spec with GroupIDs admits members of those groups (the engine works out
// memberships, directly or through nested groups); with All, every user; with
// neither, the filters decide over all users, and with no filters either the
// scope selects no one, which SelectsNothing reports so that the config can
// refuse it. Users whose userType is Guest are out unless IncludeGuests, as
// Cross-Tenant Synchronization syncs internal members only; a null userType
// counts as Member.
package scope

// Operator is a scoping-filter operator, spelled as Entra spells it.
type Operator string

// The operators of Entra provisioning scoping filters.
const (
	Equals              Operator = "EQUALS"
	NotEquals           Operator = "NOT EQUALS"
	IsTrue              Operator = "IS TRUE"
	IsFalse             Operator = "IS FALSE"
	IsNull              Operator = "IS NULL"
	IsNotNull           Operator = "IS NOT NULL"
	RegexMatch          Operator = "REGEX MATCH"
	NotRegexMatch       Operator = "NOT REGEX MATCH"
	Includes            Operator = "Includes"
	BitAnd              Operator = "&"
	NotBitAnd           Operator = "!&"
	EndsWith            Operator = "ENDS_WITH"
	GreaterThan         Operator = "Greater_Than"
	GreaterThanOrEquals Operator = "Greater_Than_OR_EQUALS"
)

// Clause is one condition of a scoping filter.
type Clause struct {
	Attribute string   `json:"attribute" yaml:"attribute"`
	Operator  Operator `json:"operator" yaml:"operator"`
	Value     string   `json:"value,omitempty" yaml:"value,omitempty"`
}

// Filter is a list of clauses that must all hold.
type Filter []Clause
