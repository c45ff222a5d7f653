// Package engine is the heart of tenantsync: given "source object X may have
// changed", it makes every target right with as few Graph calls as possible,
// safely.
//
// For a user it reads the current source state (notifications are hints,
// never data), evaluates each target's scope, maps the attributes, matches
// the target user (link, then anchor, then invitation address) and creates,
// updates, disables, deprovisions or restores it. Every step is idempotent:
// running twice, concurrently, or after a crash half way converges on the
// same target state and never creates a second user.
//
// The engine speaks to tenants through the Source and Target interfaces and
// remembers through Store (the methods of store.Store it calls, which a dry
// run's overlay implements in full, writing nothing); it knows nothing of
// Azure Functions, Service Bus or msgraph-sdk-go.
package engine
