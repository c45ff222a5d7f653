// Package expr implements the attribute-mapping expression language of
// Microsoft Entra provisioning (the language Cross-Tenant Synchronization
// uses): attribute references such as [department], string literals in
// double quotes, and function calls such as Append([givenName], " ", [surname]).
//
// Parse turns source text into an *Expr, reporting the position of any error;
// Eval evaluates it against one user's attributes.
//
// The syntax follows Microsoft's "Reference for writing expressions for
// attribute mappings in Microsoft Entra ID": attribute references in square
// brackets (dotted names such as [onPremisesExtensionAttributes.extensionAttribute1]
// included), string constants in double quotes with \" and \\ escapes,
// integers (decimal, negative, or VB hexadecimal such as &HF7), the names True,
// False, vbBinaryCompare and vbTextCompare, function calls whose arguments may
// be left empty (Replace([mail], "@contoso.com", , , "", , )), and one
// comparison (=, <>, <, <=, >, >=) per operand position, as in
// IIF([country]="USA", [country], [department]). Function names are
// case-sensitive, as Microsoft documents; a name that differs only in case is
// reported with the right spelling.
//
// Where Go cannot do what .NET does, the language differs, and
// docs/expressions.md lists every difference. The main one: Replace's
// regexPattern is compiled by Go's regexp package (RE2 syntax), not by .NET:
// named groups (?<name>…), classes, alternation and counted repetition work
// alike, but lookahead and lookbehind, backreferences, atomic groups and
// possessive quantifiers are rejected when the expression is parsed, \d, \w
// and \s match ASCII only, and $ matches only at the very end unless (?m) is
// given. Replacement strings use .NET's syntax ($1, ${name}, $$, $&, $`, $',
// $+, $_), implemented here rather than Go's.
package expr

import (
	"errors"
	"fmt"
	"time"
)

// ErrIgnoreFlow is returned by Eval when IgnoreFlowIfNullOrEmpty decided that
// the target attribute must not be written at all.
var ErrIgnoreFlow = errors.New("expr: attribute flow ignored")

// SyntaxError is a parse error at a position in the expression source.
type SyntaxError struct {
	Offset int // byte offset, 0-based
	Column int // 1-based column (in runes)
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("%s at column %d", e.Msg, e.Column) }

// Env is what an expression is evaluated against.
//
// Values, in attributes and results, are nil (null), string, bool, int64 or
// []string (a multi-valued attribute), the same types as
// directory.Attributes.
type Env struct {
	// Attrs are the source user's attributes by Graph property name.
	Attrs map[string]any
	// Now is the clock for Now(); nil means time.Now.
	Now func() time.Time
	// Random supplies randomness for Guid() and RandomString(); nil means
	// crypto/rand.
	Random func(b []byte)
	// Exists reports whether a candidate value is already taken in the
	// target, for SelectUniqueValue. Nil means no value is taken.
	Exists func(value string) (bool, error)
}

// Expr is a parsed expression. It is immutable and safe for concurrent use.
type Expr struct {
	src       string
	root      node
	attrs     []string // sorted, distinct
	funcs     []string // sorted, distinct
	sensitive bool     // Redact appears somewhere
}

// String returns the expression's source text.
func (e *Expr) String() string { return e.src }

// Attributes returns the names of the source attributes the expression
// references, sorted and without duplicates: what to $select on the source
// user.
func (e *Expr) Attributes() []string { return append([]string(nil), e.attrs...) }

// Functions returns the names of the functions the expression calls, sorted
// and without duplicates.
func (e *Expr) Functions() []string { return append([]string(nil), e.funcs...) }

// Sensitive reports whether the expression calls Redact: its value must not
// appear in logs, plans or provisioning results ("[Redact]" stands in).
func (e *Expr) Sensitive() bool { return e.sensitive }

// Canonical returns the expression in a normalised spelling: one space after
// each comma, one around each comparison, strings re-quoted, hexadecimal
// numbers in upper case. Parsing it gives the same expression.
func (e *Expr) Canonical() string { return format(e.root) }
