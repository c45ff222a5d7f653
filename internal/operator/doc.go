// Package operator does the part of the handler binary's operator commands
// (validate, plan, reconcile, provision, status, deletions, dlq) that is
// more than wiring: the read-only online checks of the tenants, a reconcile
// run that syncs what it finds at once on a pool of workers, the reading of
// recent failures for status, and the rendering of all of it for people
// (aligned text tables, progress bars and lines) and for machines (JSON).
//
// Text output is meant to be read in a terminal 100 columns wide; JSON
// output is stable: it is what scripts parse. Nothing here prints secrets:
// the store, the engine and the Graph adapter keep them out of what they
// return, and the renderers only show what they are given.
package operator
