// Package graphtest tests the engine end to end through its real adapters:
// the Graph client (internal/graph, on msgraph-sdk-go) against the Graph
// simulator over HTTP, the embedded store, and Table Storage on Azurite.
// These are the tests that prove the engine against a Graph as strict as
// the real one; the engine's own package keeps the unit tests that need no
// SDK, so that `go test ./internal/engine/` stays quick.
package graphtest
