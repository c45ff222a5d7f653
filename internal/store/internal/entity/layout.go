package entity

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash/fnv"
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

// Partitions of the Table Storage links table.
//
// The embedded store keeps a target's link rows under the keys above
// (LinkKey, IndexKey, CountsKey: partition EncodeKey(target)). The Table
// Storage store spreads them over LinkShards partitions a target, each
// EncodeKey(target) + ":" + two hex digits (ShardKey): a partition serves
// up to 2,000 entities a second ("Scalability and performance targets for
// Table storage",
// https://learn.microsoft.com/en-us/azure/storage/tables/scalability-targets),
// so listing 250,000 links from one partition takes at least 125 s, from
// 16 listed at once about 8 s. A link's shard is a hash of its encoded
// source id (LinkShard), and its reverse-index rows and the counts row of
// its shard move with it, so that one entity-group transaction, which must
// stay in one partition, still writes them all.
//
// ':' never occurs in an encoded key, so the partition of a shard names its
// target and shard without ambiguity ("contoso:0a" cannot be target
// "contoso" and "contoso:0" at once, nor any shard of "contoso-x" or
// "contoso:0a", whose ':' is escaped), and no shard partition is the
// partition of the layout before it (EncodeKey(target) alone, which has no
// ':'). LayoutKey's partition starts with ':', which no shard's does.
const (
	// LinkShards is how many partitions the Table Storage store spreads a
	// target's links over. Changing it moves links between partitions:
	// it needs a migration like that of the one-partition layout.
	LinkShards   = 16
	shardSep     = ":"
	layoutPK     = ":layout"
	layoutRK     = "links"
	shardDigitsN = 2
)

// LinkShard is the shard of a link, by its encoded source id: FNV-1a, 32
// bits, modulo LinkShards. The link counts rows used it before links were
// spread (a shard's counts row then counted the links that are now in the
// shard's partition), so it must not change.
func LinkShard(encodedSourceID string) int {
	h := fnv.New32a()
	h.Write([]byte(encodedSourceID))
	return int(h.Sum32() % LinkShards)
}

// ShardKey is where the Table Storage store keeps the row the embedded
// store keeps at k (a key from LinkKey, IndexKey or CountsKey, whose
// partition is an encoded target) when the row is in shard shard.
func ShardKey(k Key, shard int) Key {
	return Key{ShardPartition(k.PK, shard), k.RK}
}

// ShardPartition is the partition of shard shard of the target whose
// encoded name is pk.
func ShardPartition(pk string, shard int) string {
	return fmt.Sprintf("%s%s%0*x", pk, shardSep, shardDigitsN, shard)
}

// ParseShardPartition splits a partition of the links table into the
// encoded target and the shard. ok is false for any other partition: one
// of the one-partition layout (an encoded target alone) or LayoutKey's.
func ParseShardPartition(pk string) (encodedTarget string, shard int, ok bool) {
	enc, digits, found := strings.Cut(pk, shardSep)
	if !found || enc == "" || len(digits) != shardDigitsN {
		return "", 0, false
	}
	n, err := strconv.ParseUint(digits, 16, 8)
	if err != nil || n >= LinkShards || fmt.Sprintf("%0*x", shardDigitsN, n) != digits {
		return "", 0, false
	}
	return enc, int(n), true
}

// SourceShard is the shard of the link of sourceID, and of its
// reverse-index rows and counts row.
func SourceShard(sourceID string) (int, error) {
	enc, err := EncodeKey(sourceID)
	if err != nil {
		return 0, err
	}
	return LinkShard(enc), nil
}

// RowShard is the shard of a row of a target's links partition in the
// one-partition layout: a link's, a reverse-index row's (by the source id
// at its end) or a counts row's (by its number). It fails for any other
// row key.
func RowShard(rk string) (int, error) {
	switch {
	case strings.HasPrefix(rk, linkPrefix):
		if _, err := LinkSource(rk); err != nil {
			return 0, err
		}
		return LinkShard(rk[len(linkPrefix):]), nil
	case strings.HasPrefix(rk, indexPrefix):
		if _, err := IndexSource(rk); err != nil {
			return 0, err
		}
		_, enc, _ := strings.Cut(rk, sep)
		return LinkShard(enc), nil
	case strings.HasPrefix(rk, countsPrefix):
		n, err := CountsShard(rk)
		if err != nil {
			return 0, err
		}
		if n >= LinkShards {
			return 0, fmt.Errorf("link counts row %q: shard beyond %d", rk, LinkShards)
		}
		return n, nil
	}
	return 0, fmt.Errorf("row key %q is neither a link, a reverse-index row nor a link counts row", rk)
}

// LayoutKey is the key of the links table's layout record, in a partition
// of its own that no target's key can be (it starts with ':').
func LayoutKey() Key { return Key{layoutPK, layoutRK} }

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
