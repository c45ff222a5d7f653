//go:build !linux

package testenv

import "os/exec"

// setParentDeathSignal has no portable equivalent outside Linux; there Stop
// is the only way Azurite ends.
func setParentDeathSignal(*exec.Cmd) {}
