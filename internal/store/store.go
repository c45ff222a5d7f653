// Package store is tenantsync's memory: delta watermarks, the links from
// source users to their target users, Graph subscriptions, deletions held
// back by the deletion guard, the provisioning log and per-target status.
//
// Store is the contract; the implementations are in the sub-packages
// tablestore (Azure Table Storage, production) and boltstore (a single file
// or memory, for local runs and tests). Both pass the same contract tests in
// storetest.
//
// Writes that can race use optimistic concurrency. Every record carries the
// ETag it was read with; a Put with an empty ETag creates the record and
// fails with ErrConflict if it exists, a Put with an ETag replaces the record
// only if it is unchanged since and fails with ErrConflict otherwise. A lost
// race is never a silent overwrite.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

var (
	// ErrNotFound is returned when the record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict is returned when a conditional write lost a race: the record
	// exists (create) or changed since it was read (replace, delete). Read it
	// again and retry.
	ErrConflict = errors.New("store: conflict")
	// ErrTooLarge is returned when a value exceeds what the store can hold
	// (Table Storage: 64 KiB per string property, 1 MiB per entity).
	ErrTooLarge = errors.New("store: value too large")
)

// Store is the state of one tenantsync installation. Implementations are safe
// for concurrent use.
type Store interface {
	GetWatermark(ctx context.Context, tenant, resource string) (Watermark, error)
	// PutWatermark writes w conditionally on w.ETag and returns it with its new ETag.
	PutWatermark(ctx context.Context, w Watermark) (Watermark, error)
	DeleteWatermark(ctx context.Context, tenant, resource string) error

	GetLink(ctx context.Context, target, sourceID string) (Link, error)
	// GetLinks reads the links of many source users of one target at once,
	// keyed by source id; a source id without a link is absent from the
	// map. It is what a group's membership reads: one call for a group of
	// hundreds rather than one round trip per member.
	GetLinks(ctx context.Context, target string, sourceIDs []string) (map[string]Link, error)
	// GetLinkByTargetID looks a link up by the target object id (the reverse index).
	GetLinkByTargetID(ctx context.Context, target, targetID string) (Link, error)
	// PutLink writes l conditionally on l.ETag, keeping the reverse index in
	// step atomically, and returns it with its new ETag.
	PutLink(ctx context.Context, l Link) (Link, error)
	// DeleteLink removes the link if its ETag still matches (an empty ETag
	// deletes unconditionally).
	DeleteLink(ctx context.Context, l Link) error
	// ListLinks calls fn for every link of a target, in source id order.
	ListLinks(ctx context.Context, target string, fn func(Link) error) error

	GetSubscription(ctx context.Context, id string) (Subscription, error)
	PutSubscription(ctx context.Context, s Subscription) (Subscription, error)
	DeleteSubscription(ctx context.Context, id string) error
	ListSubscriptions(ctx context.Context) ([]Subscription, error)

	GetDeletion(ctx context.Context, target, sourceID string) (Deletion, error)
	PutDeletion(ctx context.Context, d Deletion) (Deletion, error)
	DeleteDeletion(ctx context.Context, d Deletion) error
	ListDeletions(ctx context.Context, target string) ([]Deletion, error)

	// AppendEvent adds a provisioning event to the log; it never conflicts.
	AppendEvent(ctx context.Context, e Event) error
	// ListEvents returns a target's events newest first, a page at a time.
	ListEvents(ctx context.Context, target string, opts ListEventsOptions) (EventPage, error)
	// PruneEvents deletes events older than the given time and returns how many.
	PruneEvents(ctx context.Context, before time.Time) (int, error)

	GetStatus(ctx context.Context, target string) (TargetStatus, error)
	PutStatus(ctx context.Context, s TargetStatus) (TargetStatus, error)

	// GetGuard reads a target's deletion guard record.
	GetGuard(ctx context.Context, target string) (Guard, error)
	// PutGuard writes g conditionally on g.ETag: the deletion guard's every
	// decision is one such write, so that two workers can never both act
	// on the same count.
	PutGuard(ctx context.Context, g Guard) (Guard, error)

	// GetGroupLink reads the link of a source group in a target.
	GetGroupLink(ctx context.Context, target, sourceID string) (GroupLink, error)
	// PutGroupLink writes l conditionally on l.ETag and returns it with its
	// new ETag.
	PutGroupLink(ctx context.Context, l GroupLink) (GroupLink, error)
	// DeleteGroupLink removes the group link if its ETag still matches (an
	// empty ETag deletes unconditionally).
	DeleteGroupLink(ctx context.Context, l GroupLink) error
	// ListGroupLinks returns every group link of a target, in source id order.
	ListGroupLinks(ctx context.Context, target string) ([]GroupLink, error)

	Close() error
}

// Watermark is where the last delta query of a source resource stopped.
type Watermark struct {
	Tenant    string // source tenant id or domain
	Resource  string // "users" or "groups"
	DeltaLink string
	TakenAt   time.Time
	// FullSyncAt is when the last full pass completed.
	FullSyncAt time.Time
	ETag       string
}

// LinkState is what tenantsync last made of a target user.
type LinkState string

const (
	LinkActive   LinkState = "active"
	LinkDisabled LinkState = "disabled" // deprovisioned by disabling, or source disabled
	LinkDeleted  LinkState = "deleted"  // soft deleted in the target
	LinkStaged   LinkState = "staged"   // deprovision held by the deletion guard
	// LinkPending: a deprovision is recorded with the deletion guard and
	// waits out its settle delay (Guard.Pending) before it is carried out,
	// staged, or cancelled because the user came back.
	LinkPending LinkState = "pending"
	// LinkConflict: the source user is not linked because a target user
	// that is not provably theirs holds their address; TargetID names it
	// and LastError says why. Only an operator (handler adopt) resolves it,
	// or a change of either user.
	LinkConflict    LinkState = "conflict"
	LinkQuarantined LinkState = "quarantined" // repeated failures for this user
	// LinkInviting records an invitation about to be sent, before the target
	// id is known: Attributes["mail"] is the invited address.
	LinkInviting LinkState = "inviting"
)

// Link ties a source user to the target user tenantsync created or adopted for it.
type Link struct {
	Target    string // target name from the config
	SourceID  string
	TargetID  string
	SourceUPN string // for people reading status and logs
	// Hash is a digest of the target attributes last written; equal hashes
	// mean there is nothing to write.
	Hash string
	// Attributes are the target attribute values last written (same value
	// conventions as directory.Attributes), so an update can PATCH exactly
	// the difference and report old → new without reading the target.
	Attributes map[string]any
	State      LinkState
	LastError  string
	Created    time.Time
	Updated    time.Time
	// Restored is when tenantsync last restored the target user from
	// deleted items: Graph replicates a restore with a delay, as it does a
	// new user, so a 404 soon after it is not taken for a deletion.
	Restored time.Time
	ETag     string
}

// Subscription is a Graph change-notification subscription tenantsync owns.
type Subscription struct {
	ID       string // Graph subscription id
	Tenant   string
	Resource string // "/users", "/groups"
	Expiry   time.Time
	// ClientStateID names the secret without revealing it; it is what logs show.
	ClientStateID string
	// ClientState is what the store keeps of the secret Graph echoes in
	// every notification: HashClientState of it (records written before
	// hold it in clear; ClientStateMatches accepts both). It is never
	// logged: String and LogValue leave it out.
	ClientState string
	Created     time.Time
	ETag        string
}

// String describes the subscription without its secret, so that fmt's %v
// and %s cannot leak it either.
func (s Subscription) String() string {
	return fmt.Sprintf("subscription %s (%s %s, expires %s, clientState %s)",
		s.ID, s.Tenant, s.Resource, s.Expiry.Format(time.RFC3339), s.ClientStateID)
}

// GoString is String, for %#v.
func (s Subscription) GoString() string { return s.String() }

// MarshalJSON leaves the secret out: JSON is how operator commands show a
// subscription, never how the stores keep it.
func (s Subscription) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID            string    `json:"id"`
		Tenant        string    `json:"tenant"`
		Resource      string    `json:"resource"`
		Expiry        time.Time `json:"expiry"`
		ClientStateID string    `json:"clientStateId"`
		Created       time.Time `json:"created"`
	}{s.ID, s.Tenant, s.Resource, s.Expiry, s.ClientStateID, s.Created})
}

// LogValue implements slog.LogValuer, leaving the secret out.
func (s Subscription) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("id", s.ID),
		slog.String("tenant", s.Tenant),
		slog.String("resource", s.Resource),
		slog.Time("expiry", s.Expiry),
		slog.String("clientStateId", s.ClientStateID),
	)
}

// Deletion is a deprovision held back by the deletion guard.
type Deletion struct {
	Target    string
	SourceID  string
	TargetID  string
	SourceUPN string
	Action    string // the deprovision action that is held: "delete" or "disable"
	Reason    string // why the user is to be deprovisioned
	StagedAt  time.Time
	ExpiresAt time.Time // after this the staged deletion is dropped unless approved
	Approved  bool
	ETag      string
}

// Event is one provisioning decision and its outcome.
type Event struct {
	Time       time.Time
	Target     string
	SourceID   string
	TargetID   string
	SourceUPN  string
	Action     string // create, update, disable, deprovision, restore, noop, skip
	Result     string // "ok", "error", "held", "skipped"
	Reason     string
	Changes    string // attribute diff summary: "department: Sales → Marketing; jobTitle: → Lead"
	RequestIDs []string
	Error      string
	// Latency from the source change (when known) to the write, for the status page.
	Latency time.Duration
	// Trigger is why the sync ran (engine.Change's Cause): notification,
	// delta, full, group, manager, guard, approve, ondemand, adopt; empty
	// in events written before it was recorded.
	Trigger string
}

// ListEventsOptions page through the log.
type ListEventsOptions struct {
	Limit int    // page size; 0 means 50
	Page  string // continuation from EventPage.Next; empty for the newest page
}

// EventPage is one page of events, newest first.
type EventPage struct {
	Events []Event
	Next   string // empty on the last page
}

// TargetStatus is the operational state of one target that the operator
// commands and the status page read.
type TargetStatus struct {
	Target string
	// Quarantine: work on the target is paused until QuarantinedUntil.
	QuarantinedUntil time.Time
	QuarantineReason string
	// Quarantines counts the quarantines in a row (each lasts twice as long
	// as the one before); a success resets it.
	Quarantines int
	// FullPassNeeded is set when work for the target was skipped (a
	// quarantine) and cleared by the next full pass that covers it.
	FullPassNeeded bool
	LastReconcile  time.Time
	// LastFullReconcile is when the last full pass that covered this
	// target completed.
	LastFullReconcile time.Time
	// Counters of actions taken since the record was created, by action name.
	Counters map[string]int64
	ETag     string
}

// Guard is the deletion guard's record of one target. A deprovision
// (delete or disable, for any cause) is first recorded as pending; once it
// has waited out the settle delay it is carried out only if the pending
// and recently executed deprovisions together stay within the threshold,
// and otherwise every pending one is staged for approval and the guard
// holds until HoldUntil. The engine decides each step with one conditional
// PutGuard.
type Guard struct {
	Target string
	// Pending deprovisions by source user id, with when each was recorded.
	Pending map[string]time.Time
	// Executed deprovisions carried out without approval, by source user
	// id, with when; the engine drops those older than the window.
	Executed map[string]time.Time
	// HoldUntil: while it is in the future, every deprovision is staged.
	HoldUntil time.Time
	ETag      string
}

// GroupLinkState is what tenantsync last made of a target group.
type GroupLinkState string

const (
	GroupActive GroupLinkState = "active"
	// GroupCreating records a group about to be created, before its id is
	// known: Attributes hold what the create sends (its displayName among
	// them), so that a sync after a crash finds the group by that name and
	// tenantsync's anchor rather than creating a second one.
	GroupCreating GroupLinkState = "creating"
	GroupDeleted  GroupLinkState = "deleted" // soft deleted in the target
	GroupPending  GroupLinkState = "pending" // deletion recorded with the deletion guard
	GroupStaged   GroupLinkState = "staged"  // deletion held by the deletion guard
	// GroupConflict: a target group tenantsync does not own has the name
	// the source group maps to; TargetID names it, LastError says why.
	// Only an operator (handler adopt --group) or a rename resolves it.
	GroupConflict GroupLinkState = "conflict"
)

// GroupLink ties a source group to the security group tenantsync created
// (or an operator adopted) for it in one target.
type GroupLink struct {
	Target   string // target name from the config
	SourceID string // source group object id
	TargetID string
	// SourceName is the source group's displayName, for people reading
	// status and logs.
	SourceName string
	// Adopted is true for a target group an operator adopted (handler adopt
	// --group) rather than one tenantsync created: it may carry no anchor
	// (Graph's uniqueName can only be set on create), and tenantsync never
	// deletes it, only lets go of it.
	Adopted bool
	// SyncedAs is the entry of the target's groups (an id or a display
	// name, as configured) that selects the group: a group configured by
	// name and renamed in the source stays synced, found through it.
	SyncedAs string
	// Attributes are the group properties last written (the anchor among
	// them), same value conventions as directory.Attributes.
	Attributes map[string]any
	// Members are the target users tenantsync added to the group (object
	// ids, sorted): the only members it ever removes. Members a target
	// administrator added stay.
	Members   []string
	State     GroupLinkState
	LastError string
	Created   time.Time
	Updated   time.Time
	ETag      string
}
