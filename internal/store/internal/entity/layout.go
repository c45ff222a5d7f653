package entity

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Tables, by their name without the configurable prefix. The embedded store
// uses the same names for its buckets, and the same keys.
const (
	TableWatermarks    = "watermarks"
	TableLinks         = "links"
	TableSubscriptions = "subscriptions"
	TableDeletions     = "deletions"
	TableEvents        = "events"
	TableStatus        = "status"
	// TableGroupLinks holds the links of synced groups: partition the
	// target, row the source group id. A table of its own rather than rows
	// of the links table, so that listing a target's group links reads
	// only them and ListLinks' range stays the users'.
	TableGroupLinks = "grouplinks"
)

// Tables lists every table the stores use.
var Tables = []string{TableWatermarks, TableLinks, TableSubscriptions, TableDeletions, TableEvents, TableStatus, TableGroupLinks}

// Key is where a record lives in its table.
type Key struct {
	PK, RK string
}

// Row keys in the links table: a link at "s"+source, and its reverse-index
// row at "t"+targetID+":"+source, in the same partition (the target) so that
// one entity-group transaction writes both (and the link counts rows,
// "c"+shard, see CountsKey). ':' never occurs in an encoded
// key, so it separates the parts without ambiguity.
const (
	linkPrefix  = "s"
	indexPrefix = "t"
	sep         = ":"
)

// statusRow and guardRow are the row keys of a target's status and
// deletion guard rows, in the target's partition of the status table.
const (
	statusRow = "status"
	guardRow  = "guard"
)

// subscriptionsPartition holds all subscriptions: there are a handful.
const subscriptionsPartition = "subscriptions"

// WatermarkKey is the key of a watermark.
func WatermarkKey(tenant, resource string) (Key, error) {
	return pair(tenant, resource)
}

// LinkKey is the key of a link.
func LinkKey(target, sourceID string) (Key, error) {
	pk, err := EncodeKey(target)
	if err != nil {
		return Key{}, err
	}
	rk, err := EncodeKey(sourceID)
	if err != nil {
		return Key{}, err
	}
	return Key{pk, linkPrefix + rk}, nil
}

// LinkRange is the row key range [lo, hi) of a target's links, in the
// partition EncodeKey(target).
func LinkRange() (lo, hi string) { return linkPrefix, indexPrefix }

// Link counts rows: the Table Storage store keeps a target's link counts in
// shards at "c"+two hex digits, in the target's partition of the links
// table so that a link write changes its shard in its own entity-group
// transaction. 'c' sorts before both 's' (links) and 't' (reverse index),
// so neither LinkRange nor IndexRange reaches them. The embedded store
// keeps its counts in a bucket of its own and has no such rows.
const (
	countsPrefix = "c"
	countsEnd    = "d" // the character after countsPrefix
	// MaxCountShards bounds the shards CountsKey can name: two hex digits.
	MaxCountShards = 256
)

// CountsKey is the key of shard shard (0 ≤ shard < MaxCountShards) of a
// target's link counts.
func CountsKey(target string, shard int) (Key, error) {
	if shard < 0 || shard >= MaxCountShards {
		return Key{}, fmt.Errorf("link counts shard %d out of range", shard)
	}
	pk, err := EncodeKey(target)
	if err != nil {
		return Key{}, err
	}
	return Key{pk, fmt.Sprintf("%s%02x", countsPrefix, shard)}, nil
}

// CountsRange is the row key range [lo, hi) of a target's link counts
// rows, in the partition EncodeKey(target).
func CountsRange() (lo, hi string) { return countsPrefix, countsEnd }

// CountsShard returns the shard of a link counts row key.
func CountsShard(rk string) (int, error) {
	digits, ok := strings.CutPrefix(rk, countsPrefix)
	if !ok || len(digits) != 2 {
		return 0, fmt.Errorf("row key %q is not a link counts row", rk)
	}
	n, err := strconv.ParseUint(digits, 16, 8)
	if err != nil || fmt.Sprintf("%02x", n) != digits {
		return 0, fmt.Errorf("row key %q is not a link counts row", rk)
	}
	return int(n), nil
}

// LinkSource returns the source id of a link's row key.
func LinkSource(rk string) (string, error) {
	enc, ok := strings.CutPrefix(rk, linkPrefix)
	if !ok {
		return "", fmt.Errorf("row key %q is not a link", rk)
	}
	return DecodeKey(enc)
}

// IndexKey is the key of the reverse-index row of a link.
func IndexKey(target, targetID, sourceID string) (Key, error) {
	pk, err := EncodeKey(target)
	if err != nil {
		return Key{}, err
	}
	tid, err := EncodeKey(targetID)
	if err != nil {
		return Key{}, err
	}
	sid, err := EncodeKey(sourceID)
	if err != nil {
		return Key{}, err
	}
	return Key{pk, indexPrefix + tid + sep + sid}, nil
}

// IndexRange is the row key range [lo, hi) of the reverse-index rows of one
// target object id, in the partition EncodeKey(target).
func IndexRange(targetID string) (lo, hi string, err error) {
	tid, err := EncodeKey(targetID)
	if err != nil {
		return "", "", err
	}
	// ';' is the character after ':'.
	return indexPrefix + tid + sep, indexPrefix + tid + ";", nil
}

// IndexSource returns the source id of a reverse-index row key.
func IndexSource(rk string) (string, error) {
	_, enc, ok := strings.Cut(rk, sep)
	if !ok || !strings.HasPrefix(rk, indexPrefix) {
		return "", fmt.Errorf("row key %q is not a reverse-index row", rk)
	}
	return DecodeKey(enc)
}

// SubscriptionKey is the key of a subscription.
func SubscriptionKey(id string) (Key, error) {
	rk, err := EncodeKey(id)
	if err != nil {
		return Key{}, err
	}
	return Key{subscriptionsPartition, rk}, nil
}

// SubscriptionsPartition is the partition that holds every subscription.
func SubscriptionsPartition() string { return subscriptionsPartition }

// DeletionKey is the key of a staged deletion.
func DeletionKey(target, sourceID string) (Key, error) {
	return pair(target, sourceID)
}

// GroupLinkKey is the key of a group link.
func GroupLinkKey(target, sourceID string) (Key, error) {
	return pair(target, sourceID)
}

// StatusKey is the key of a target's status row.
func StatusKey(target string) (Key, error) {
	pk, err := EncodeKey(target)
	if err != nil {
		return Key{}, err
	}
	return Key{pk, statusRow}, nil
}

// GuardKey is the key of a target's deletion guard row.
func GuardKey(target string) (Key, error) {
	pk, err := EncodeKey(target)
	if err != nil {
		return Key{}, err
	}
	return Key{pk, guardRow}, nil
}

func pair(a, b string) (Key, error) {
	pk, err := EncodeKey(a)
	if err != nil {
		return Key{}, err
	}
	rk, err := EncodeKey(b)
	if err != nil {
		return Key{}, err
	}
	return Key{pk, rk}, nil
}

// Event row keys are the event time inverted, so that ascending key order is
// newest first, and a random suffix so that events at the same instant do
// not collide: 20 digits, '_', 16 hex digits.
const eventTimeDigits = 20

// EventKey returns the key of a new event of target at time t.
func EventKey(target string, t time.Time) (Key, error) {
	pk, err := EncodeKey(target)
	if err != nil {
		return Key{}, err
	}
	var suffix [8]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return Key{}, fmt.Errorf("event key: %w", err)
	}
	return Key{pk, invertedTime(t) + "_" + hex.EncodeToString(suffix[:])}, nil
}

// EventsOlderThan returns the smallest row key of an event older than
// before: every row key at or above it belongs to an event with a time
// strictly before before.
func EventsOlderThan(before time.Time) string {
	return invertedTime(before.Add(-time.Nanosecond))
}

// invertedTime maps t to a fixed-width decimal that sorts in reverse time
// order.
func invertedTime(t time.Time) string {
	ns := t.UnixNano()
	u := uint64(ns) ^ (1 << 63) // order-preserving int64 → uint64
	return fmt.Sprintf("%0*d", eventTimeDigits, ^u)
}

// EventTime returns the time encoded in an event row key.
func EventTime(rk string) (time.Time, error) {
	if len(rk) < eventTimeDigits {
		return time.Time{}, fmt.Errorf("event row key %q too short", rk)
	}
	inv, err := strconv.ParseUint(rk[:eventTimeDigits], 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("event row key %q: %w", rk, err)
	}
	ns := int64((^inv) ^ (1 << 63))
	return time.Unix(0, ns).UTC(), nil
}

// PageToken returns the continuation token that resumes a listing of events
// after the event with row key rk.
func PageToken(rk string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(rk))
}

// ParsePageToken returns the row key a continuation token resumes after.
func ParsePageToken(token string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return "", fmt.Errorf("bad page token %q", token)
	}
	rk := string(b)
	if _, err := EventTime(rk); err != nil {
		return "", fmt.Errorf("bad page token %q", token)
	}
	return rk, nil
}

// DefaultEventPage is the page size of ListEvents when none is given.
const DefaultEventPage = 50

// MaxEventPage bounds a page of ListEvents.
const MaxEventPage = 1000

// PageSize returns the size of a page of ListEvents for the limit asked:
// DefaultEventPage for none, at most MaxEventPage.
func PageSize(limit int) int {
	switch {
	case limit <= 0:
		return DefaultEventPage
	case limit > MaxEventPage:
		return MaxEventPage
	}
	return limit
}
