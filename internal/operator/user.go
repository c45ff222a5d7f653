package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tenantsync/tenantsync/internal/statuspage"
	"github.com/tenantsync/tenantsync/internal/store"
)

// DefaultUserEvents is how many of a user's events `status --user` shows
// per target.
const DefaultUserEvents = 10

// ErrUserUnknown is returned by ReadUser when the store knows nothing of
// the user in any target.
var ErrUserUnknown = errors.New("unknown user")

// UserStatus is what `status --user` shows: one source user in every
// target, from the store alone.
type UserStatus struct {
	GeneratedAt time.Time `json:"generatedAt"`
	// User is the user as asked: an object id or a userPrincipalName.
	User              string       `json:"user"`
	SourceID          string       `json:"sourceId"`
	UserPrincipalName string       `json:"userPrincipalName,omitempty"`
	Targets           []UserTarget `json:"targets"`
}

// UserTarget is the user in one target.
type UserTarget struct {
	Name string `json:"name"`
	// Link is nil when the user is not linked in the target.
	Link *UserLink `json:"link,omitempty"`
	// PendingSince is set while a deprovision of the user waits out the
	// deletion guard's settle delay.
	PendingSince *time.Time `json:"pendingSince,omitempty"`
	// Deletion is the deprovision the deletion guard holds for approval.
	Deletion *statuspage.Deletion `json:"deletion,omitempty"`
	// Conflict is set when a target user that is not provably the user's
	// holds their address.
	Conflict *UserConflict `json:"conflict,omitempty"`
	// Events are the user's newest events in the target, newest first.
	Events []LogEntry `json:"events"`
}

// UserLink is the user's link to their target user.
type UserLink struct {
	State     string    `json:"state"`
	TargetID  string    `json:"targetId,omitempty"`
	LastError string    `json:"lastError,omitempty"`
	Created   time.Time `json:"created,omitzero"`
	Updated   time.Time `json:"updated,omitzero"`
}

// UserConflict is the target user in the way, and why it is not taken.
type UserConflict struct {
	TargetID string `json:"targetId"`
	Reason   string `json:"reason"`
	// Command links the two if an operator decides they are the same
	// person.
	Command string `json:"command"`
}

// UserOptions configure ReadUser.
type UserOptions struct {
	Store   store.Store
	Targets []string
	// User is a source object id, a target object id or a
	// userPrincipalName.
	User string
	// Events is how many events to show per target; 0 means
	// DefaultUserEvents.
	Events int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// ReadUser reads what the store knows of one user in every target: the
// link (state, target user, last error), a deprovision pending or held,
// a conflict, and the newest events. It reads no tenant. The user is
// found by source id, by target id, by userPrincipalName among the links
// or, for a user with no link, in the deletions and the log.
func ReadUser(ctx context.Context, opts UserOptions) (*UserStatus, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Events <= 0 {
		opts.Events = DefaultUserEvents
	}
	u := &UserStatus{GeneratedAt: opts.Now().UTC(), User: opts.User, Targets: []UserTarget{}}
	id, upn, err := findUser(ctx, opts)
	if err != nil {
		return nil, err
	}
	u.SourceID, u.UserPrincipalName = id, upn
	for _, target := range opts.Targets {
		ut := UserTarget{Name: target, Events: []LogEntry{}}
		l, err := opts.Store.GetLink(ctx, target, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("read the link of %s in %s: %w", id, target, err)
		default:
			if u.UserPrincipalName == "" {
				u.UserPrincipalName = l.SourceUPN
			}
			ut.Link = &UserLink{State: string(l.State), TargetID: l.TargetID, LastError: l.LastError, Created: l.Created.UTC(), Updated: l.Updated.UTC()}
			if l.State == store.LinkConflict {
				ut.Conflict = &UserConflict{TargetID: l.TargetID, Reason: l.LastError,
					Command: fmt.Sprintf("handler adopt --target %s --source-user %s --target-user %s", target, id, l.TargetID)}
			}
		}
		g, err := opts.Store.GetGuard(ctx, target)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("read the deletion guard of %s: %w", target, err)
		default:
			if at, ok := g.Pending[id]; ok {
				at = at.UTC()
				ut.PendingSince = &at
			}
		}
		dels, err := opts.Store.ListDeletions(ctx, target)
		if err != nil {
			return nil, fmt.Errorf("list the staged deletions of %s: %w", target, err)
		}
		for _, d := range dels {
			if d.SourceID == id {
				v := statuspage.DeletionOf(d)
				ut.Deletion = &v
			}
		}
		log, err := ReadLog(ctx, LogOptions{Store: opts.Store, Targets: []string{target}, Filter: statuspage.EventFilter{User: id}, Limit: opts.Events})
		if err != nil {
			return nil, err
		}
		ut.Events = log.Events
		u.Targets = append(u.Targets, ut)
	}
	return u, nil
}

// findUser resolves the user asked for to a source id (and the
// userPrincipalName, when found on the way).
func findUser(ctx context.Context, opts UserOptions) (id, upn string, err error) {
	want := strings.TrimSpace(opts.User)
	for _, target := range opts.Targets {
		l, err := opts.Store.GetLink(ctx, target, want)
		if err == nil {
			return l.SourceID, l.SourceUPN, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", "", fmt.Errorf("find user %s: read the links of %s: %w", want, target, err)
		}
		l, err = opts.Store.GetLinkByTargetID(ctx, target, want)
		if err == nil {
			return l.SourceID, l.SourceUPN, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return "", "", fmt.Errorf("find user %s: read the links of %s: %w", want, target, err)
		}
	}
	// By userPrincipalName: a scan of each target's links.
	errFound := errors.New("found")
	for _, target := range opts.Targets {
		err := opts.Store.ListLinks(ctx, target, func(l store.Link) error {
			if strings.EqualFold(l.SourceUPN, want) {
				id, upn = l.SourceID, l.SourceUPN
				return errFound
			}
			return nil
		})
		if errors.Is(err, errFound) {
			return id, upn, nil
		}
		if err != nil {
			return "", "", fmt.Errorf("find user %s: list the links of %s: %w", want, target, err)
		}
	}
	// Not linked anywhere: a held deletion, or the log, may still name them.
	for _, target := range opts.Targets {
		dels, err := opts.Store.ListDeletions(ctx, target)
		if err != nil {
			return "", "", fmt.Errorf("find user %s: list the staged deletions of %s: %w", want, target, err)
		}
		for _, d := range dels {
			if strings.EqualFold(d.SourceID, want) || strings.EqualFold(d.SourceUPN, want) || strings.EqualFold(d.TargetID, want) {
				return d.SourceID, d.SourceUPN, nil
			}
		}
		f, err := statuspage.FindEvents(ctx, opts.Store, target, statuspage.EventFilter{User: want}, "", 1, MaxLogScan)
		if err != nil {
			return "", "", fmt.Errorf("find user %s: %w", want, err)
		}
		if len(f.Events) > 0 {
			return f.Events[0].SourceID, f.Events[0].SourceUPN, nil
		}
	}
	return "", "", fmt.Errorf("%w: no link, staged deletion or provisioning event of any target names %s; "+
		"tenantsync has not synced this user (handler provision --user %s shows why, reading the tenants)", ErrUserUnknown, want, want)
}

// WriteUser writes one user's status for people.
func WriteUser(w io.Writer, u *UserStatus) error {
	now := u.GeneratedAt
	name := u.UserPrincipalName
	if name == "" {
		name = u.User
	}
	fmt.Fprintf(w, "User %s (source id %s)\n", clean(name), clean(u.SourceID))
	for _, ut := range u.Targets {
		fmt.Fprintf(w, "\nTarget %s\n", ut.Name)
		t := newTable(w)
		switch l := ut.Link; {
		case l == nil:
			t.row("  link", "none: not linked in this target")
		default:
			s := l.State
			if l.TargetID != "" {
				s += ", target user " + l.TargetID
			}
			if !l.Updated.IsZero() {
				s += fmt.Sprintf(", updated %s (%s)", timestamp(l.Updated), ago(now, l.Updated))
			}
			t.row("  link", s)
			if l.LastError != "" && ut.Conflict == nil {
				t.row("  last error", l.LastError)
			} else if ut.Conflict == nil {
				t.row("  last error", "none")
			}
		}
		switch {
		case ut.Deletion != nil:
			d := ut.Deletion
			state := "awaiting approval: handler deletions approve --target " + ut.Name + " " + u.SourceID
			if d.Approved {
				state = "approved"
			}
			expires := ""
			if !d.ExpiresAt.IsZero() {
				expires = ", expires " + ago(now, d.ExpiresAt)
			}
			t.row("  deletion", fmt.Sprintf("held by the deletion guard: %s, staged %s%s, %s (%s)", d.Action, ago(now, d.StagedAt), expires, state, d.Reason))
		case ut.PendingSince != nil:
			t.row("  deletion", fmt.Sprintf("pending since %s (%s): waits out the deletion guard's settle delay", timestamp(*ut.PendingSince), ago(now, *ut.PendingSince)))
		default:
			t.row("  deletion", "none")
		}
		if c := ut.Conflict; c != nil {
			t.row("  conflict", fmt.Sprintf("with target user %s: %s; if it is this person: %s", c.TargetID, c.Reason, c.Command))
		} else {
			t.row("  conflict", "none")
		}
		if len(ut.Events) == 0 {
			t.row("  events", "none")
		} else {
			t.row("  events", fmt.Sprintf("%d newest:", len(ut.Events)))
		}
		if err := t.flush(); err != nil {
			return err
		}
		if len(ut.Events) > 0 {
			t = newTable(w, "    TIME", "ACTION", "RESULT", "DETAIL")
			for _, e := range ut.Events {
				t.row("    "+timestamp(e.Time), e.Action, e.Result, eventDetail(e))
				if len(e.RequestIDs) > 0 {
					t.text("      Graph request ids: " + strings.Join(e.RequestIDs, ", "))
				}
			}
			if err := t.flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// eventDetail is an event's reason, error and changed attributes in one
// cell.
func eventDetail(e LogEntry) string {
	var parts []string
	if e.Error != "" {
		parts = append(parts, e.Error)
	}
	if e.Reason != "" && e.Reason != "failed" {
		parts = append(parts, e.Reason)
	}
	if len(e.Attributes) > 0 {
		parts = append(parts, "attributes: "+strings.Join(e.Attributes, ", "))
	}
	return orDash(strings.Join(parts, "; "))
}
