// Package mapping computes the attributes of a target user from a source
// user: the attribute mappings of Entra provisioning (direct, constant and
// expression mappings, defaults, apply always or on create only), with the
// defaults of Cross-Tenant Synchronization.
package mapping

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
