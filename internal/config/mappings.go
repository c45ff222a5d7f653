package config

import (
	"errors"

	"github.com/tenantsync/tenantsync/internal/mapping"
)

// validateMappings compiles a target's attribute mappings over the defaults
// (internal/mapping), reporting each bad rule at its path, as in
// `targets[0].mappings[3].expression: unknown function "Apend" at column 1`.
func validateMappings(l *errorList, p string, t *Target) {
	if _, err := mapping.Compile(t.Mappings); err != nil {
		for _, e := range unwrapAll(err) {
			var re *mapping.RuleError
			if errors.As(e, &re) {
				l.add(indexPath(p+".mappings", re.Index)+"."+re.Field, "%v", re.Err)
			} else {
				l.add(p+".mappings", "%v", e)
			}
		}
	}
}
