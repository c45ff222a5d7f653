// Package operator does the part of the handler binary's operator commands
// (validate, plan, reconcile, provision, status, log, deletions, dlq) that
// is more than wiring: the read-only online checks of the tenants, a
// reconcile run that syncs what it finds at once on a pool of workers, the
// reading of status, of one user and of the provisioning log from the
// store, and the rendering of all of it for people (aligned text tables, a
// spinner and progress lines) and for machines (JSON).
//
// Plan and reconcile count in one vocabulary and one way (Outcome,
// Counts): each user once per target, as create, update, disable,
// deprovision, restore, pending, held, conflict, skip, drift or failed —
// the words of statuspage.Outcomes, which the log and the status page use
// too — so that the same changes give the same numbers everywhere.
//
// Text output is meant to be read in a terminal 100 columns wide, with
// durations as people write them ("30 min", not "30m0s") and what came
// from a directory cleaned of control and bidirectional formatting
// characters; JSON output is stable: it is what scripts parse. Nothing here
// prints secrets: the store, the engine and the Graph adapter keep them out
// of what they return, and the renderers only show what they are given.
package operator
