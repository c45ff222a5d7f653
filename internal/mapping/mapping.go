// Package mapping computes the attributes of a target user from a source
// user: the attribute mappings of Entra provisioning (direct, constant and
// expression mappings, defaults, apply always or on create only), with the
// defaults of Cross-Tenant Synchronization.
//
// Compile merges a target's rules over Defaults and validates them; the
// resulting *Set maps source users (Map), says which source attributes to
// read (SourceAttributes), and Hash and Diff tell the engine whether and what
// to write. Reference attributes (manager) are not resolved here: Map returns
// the source manager's id and the engine translates it through its links.
package mapping

import (
	"fmt"
	"time"
)

// Apply says when a mapping is written.
type Apply string

const (
	// Always writes the mapping on create and on every update (the default).
	Always Apply = "always"
	// OnCreate writes the mapping only when the target user is created.
	OnCreate Apply = "onCreate"
)

// Rule is one attribute mapping, keyed by the target attribute it writes.
// Exactly one of Source, Constant and Expression is set, unless Ignore is
// true, which drops a default mapping for Target.
type Rule struct {
	Target     string  `json:"target" yaml:"target"`
	Source     string  `json:"source,omitempty" yaml:"source,omitempty"`
	Constant   *string `json:"constant,omitempty" yaml:"constant,omitempty"`
	Expression string  `json:"expression,omitempty" yaml:"expression,omitempty"`
	Default    *string `json:"default,omitempty" yaml:"default,omitempty"`
	Apply      Apply   `json:"apply,omitempty" yaml:"apply,omitempty"`
	Ignore     bool    `json:"ignore,omitempty" yaml:"ignore,omitempty"`
}

// Op is the operation a mapping is computed for.
type Op int

const (
	// Create computes every mapping, those applied on create only included.
	Create Op = iota + 1
	// Update leaves out the mappings applied on create only.
	Update
)

func (op Op) String() string {
	switch op {
	case Create:
		return "create"
	case Update:
		return "update"
	}
	return fmt.Sprintf("Op(%d)", int(op))
}

// Options are what Map needs besides the source user.
type Options struct {
	// Now is the clock for Now() in expressions; nil means time.Now.
	Now func() time.Time
	// Random supplies randomness for Guid() and RandomString(); nil means
	// crypto/rand.
	Random func(b []byte)
	// Exists reports whether value is already taken for attribute in the
	// target, for SelectUniqueValue. Nil means nothing is taken.
	Exists func(attribute, value string) (bool, error)
}

// RuleError is an invalid rule in a target's mappings. Index is the rule's
// position in the list given to Compile, Field the key at fault ("target",
// "source", "constant", "expression", "default", "apply", "ignore"). Its
// message reads `mappings[3].expression: unknown function "Apend" at column
// 1`; the config package puts the target's path in front.
type RuleError struct {
	Index int
	Field string
	Err   error
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("mappings[%d].%s: %v", e.Index, e.Field, e.Err)
}

func (e *RuleError) Unwrap() error { return e.Err }
