package mapping

import (
	"fmt"
	"strings"
)

// GroupDefaults returns the default mappings of a synced group: its
// displayName, description and mailNickname flow from the source group
// (Graph requires displayName and mailNickname to create a group). Every
// call returns a new slice.
func GroupDefaults() []Rule {
	return []Rule{
		{Target: "displayName", Source: "displayName"},
		{Target: "description", Source: "description"},
		{Target: "mailNickname", Source: "mailNickname"},
	}
}

// CompileGroup is Compile for a target's group mappings: the rules merged
// over GroupDefaults, their targets the group properties tenantsync
// writes. A Set compiled here maps a source group given as a
// directory.User whose Attrs are the group's properties.
func CompileGroup(rules []Rule) (*Set, error) {
	return compile(rules, GroupDefaults(), groupTargetType)
}

// groupTargets are the properties of a security group a mapping may write;
// securityEnabled, mailEnabled and groupTypes are fixed by tenantsync (a
// security group), and the anchor is its own.
var groupTargets = []string{"displayName", "description", "mailNickname"}

func groupTargetType(name string) (attrType, error) {
	for _, t := range groupTargets {
		if t == name {
			return typeString, nil
		}
	}
	if strings.HasPrefix(name, "extension_") && len(name) > len("extension_") {
		return typeAny, nil
	}
	for _, t := range groupTargets {
		if strings.EqualFold(t, name) {
			return 0, fmt.Errorf("unknown group attribute %q (attribute names are case-sensitive here: did you mean %q?)", name, t)
		}
	}
	return 0, fmt.Errorf("unknown group attribute %q: a group mapping writes displayName, description, mailNickname or a directory extension (extension_<appId>_<name>)", name)
}
