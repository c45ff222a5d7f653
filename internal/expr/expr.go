// Package expr implements the attribute-mapping expression language of
// Microsoft Entra provisioning (the language Cross-Tenant Synchronization
// uses): attribute references such as [department], string literals in
// double quotes, and function calls such as Append([givenName], " ", [surname]).
//
// Parse turns source text into an *Expr, reporting the position of any error;
// Eval evaluates it against one user's attributes.
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
	src string
	// implementation detail: the parsed tree
}

// String returns the expression's source text.
func (e *Expr) String() string { return e.src }
