// Package scope decides whether a source user is in scope for a target: the
// scoping filters of Entra provisioning (clauses AND'ed within a filter,
// filters OR'ed) and the group and user-type conditions around them.
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
