package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/mapping"
)

// Kind is the type of a source object a Change is about.
type Kind string

const (
	KindUser  Kind = "user"
	KindGroup Kind = "group"
)

// Change says "source object ID may have changed". It is a hint, never
// data: the engine always reads the object's current state.
type Change struct {
	Kind Kind   `json:"kind"`
	ID   string `json:"id"`
	// Observed is when the change was first seen (a notification's arrival,
	// a delta query); zero when unknown. It measures end-to-end latency.
	Observed time.Time `json:"observed,omitzero"`
	// Cause says where the change came from: "notification", "delta",
	// "full", "group", "ondemand", "approve".
	Cause string `json:"cause,omitempty"`
	// Force makes the engine compare against the target user as it is now
	// rather than against what it last wrote, and repeat the follow-ups of
	// the sync. It is set when the target drifted, and for the retry of a
	// change that failed or was delivered again after a crash: the failure
	// or the crash may have come between a target write and its link write,
	// or before the follow-ups were sent.
	Force bool `json:"force,omitempty"`
}

// GroupsDeltaSession is the queue session of the group changes that catch
// up the groups delta (group notifications): they are handled one at a
// time, so that each reads what the one before it left. Handled at once,
// each read the same window from the same watermark and sent a follow-up
// for every group changed in it: the bench's 200 membership changes cost
// 613 group syncs (docs/performance.md, Groups).
const GroupsDeltaSession = "groups-delta"

// Session returns the queue session c is handled in: the object's id, so
// that changes to one object are handled one at a time and in order, except
// for the changes that catch up the groups delta, which share
// GroupsDeltaSession.
func (c Change) Session() string {
	if c.Kind == KindGroup && !slices.Contains(groupOnlyCauses, c.Cause) {
		return GroupsDeltaSession
	}
	return c.ID
}

// Op is what the engine did, or would do, to one target user.
type Op string

// The operations, as plan and provision report them.
const (
	OpCreate      Op = "create"
	OpUpdate      Op = "update"
	OpDisable     Op = "disable"
	OpDeprovision Op = "deprovision"
	OpRestore     Op = "restore"
	OpNoop        Op = "noop"
	OpSkip        Op = "skip"
)

// Action is the decision for one source user in one target, and its outcome.
// Its JSON form is the per-user element of `plan --json`.
type Action struct {
	Op                Op              `json:"action"`
	SourceID          string          `json:"sourceId"`
	UserPrincipalName string          `json:"userPrincipalName"`
	TargetID          *string         `json:"targetId"`
	Reason            string          `json:"reason"`
	Changes           mapping.Changes `json:"changes,omitempty"`
	// Held is true when the deletion guard staged the deprovision.
	Held bool `json:"-"`
	// PendingUntil is set when the deprovision is recorded with the deletion
	// guard and waits out the settle delay until then.
	PendingUntil *time.Time `json:"pendingUntil,omitempty"`
	// Conflict names a target user that holds the source user's address
	// but is not provably theirs: nothing was written to it.
	Conflict *Conflict `json:"conflict,omitempty"`
	// Drift lists what a target administrator changed that was left as
	// the target has it (old: what tenantsync wrote, new: the target's
	// value).
	Drift      mapping.Changes `json:"drift,omitempty"`
	RequestIDs []string        `json:"requestIds,omitempty"`
	Error      string          `json:"error,omitempty"`
	Target     string          `json:"-"`

	// linked is true when the sync ended with a link to a live target
	// user; activated when that link was not active before (created,
	// adopted, restored, enabled again): the user's direct reports may now
	// have their manager set.
	linked, activated bool
	// cancelled names the deprovision ("pending" or "staged") this sync
	// cancelled because the user no longer needs it.
	cancelled string
	// burst are the other users whose pending deprovisions this decision
	// staged with this one.
	burst []string
	// known is true for a conflict recorded before: not logged again.
	known bool
	// stagedBefore is true when the deprovision was staged already, before
	// this sync: a full pass need not send it again (heldOnly).
	stagedBefore bool
	// heldAlone is heldOnly, noted by a dry run before it drops the
	// changes of actions it keeps without details.
	heldAlone bool
}

// heldOnly reports whether all there is to do for the user is a
// deprovision staged before: a full pass need not send it again. A held
// disable holds the disable, not the user's other changes, which a full
// pass must send (found by the chaos suite: a lost notification's change
// of address never reached the target).
func (a Action) heldOnly() bool {
	if !a.stagedBefore {
		return false
	}
	for k := range a.Changes {
		if k != "accountEnabled" {
			return false
		}
	}
	return true
}

// Conflict is a target user in the way of a source user: it has their
// invitation address but is not provably theirs (another identity redeemed
// it, it is an internal member, or it carries another anchor). Only an
// operator resolves it (handler adopt), or a change of either user.
type Conflict struct {
	TargetID string `json:"targetId"`
	Reason   string `json:"reason"`
}

// refused records the properties a target refused to write for this user
// alone (a user with an administrator role there): the action's error, and
// no longer among its changes.
func (a *Action) refused(names []string) {
	if len(names) == 0 {
		return
	}
	for _, n := range names {
		delete(a.Changes, n)
	}
	a.Error = "the target refused to change " + strings.Join(names, ", ") +
		" (403): only a more privileged caller may change these properties of a user who holds an administrator role in the target; the rest was written"
}

func (a *Action) setTargetID(id string) {
	if id == "" {
		a.TargetID = nil
		return
	}
	a.TargetID = &id
}

// Result is what Sync did for one change.
type Result struct {
	Change  Change
	Actions []Action
	// FollowUps are changes a change implies, for the caller to process
	// (the event pipeline enqueues them): users whose scope a group change
	// moved, a manager's reports, the synced groups a user joins or leaves.
	FollowUps []Change
	// Groups are the outcomes of a group change in each target that syncs
	// the group (group provisioning, group.go).
	Groups []GroupAction `json:"groups,omitempty"`
	// RecheckAt, when not zero, is when this change must be synced again:
	// a deprovision waits out the deletion guard's settle delay. The event
	// pipeline schedules the change for then; reconcile also sends overdue
	// ones again.
	RecheckAt time.Time
	// Commit, when not nil, records what the FollowUps were read up to (a
	// group change reads the source's groups delta and moves its
	// watermark). Call it once the follow-ups are safe, enqueued: a crash
	// before it only makes the next group change or reconcile read the
	// same delta again, where moving the watermark first would lose the
	// follow-ups until the daily full pass.
	Commit func(context.Context) error `json:"-"`
}

var (
	// ErrPermanent marks a failure that retrying the same change will not
	// fix (a bad attribute value, a config error): the pipeline dead-letters
	// it at once with the reason instead of retrying.
	ErrPermanent = errors.New("permanent failure")
	// ErrUnknownTarget is returned for a target name not in the config.
	ErrUnknownTarget = errors.New("unknown target")
	// ErrQuarantined marks a reconcile that could not cover a target
	// because it is quarantined.
	ErrQuarantined = errors.New("target quarantined")
)
