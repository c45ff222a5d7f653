package tablestore

import (
	"github.com/tenantsync/tenantsync/internal/store/internal/entity"
)

// Keys of the links table in this store's layout: a target's links, their
// reverse-index rows and its link counts rows are spread over
// entity.LinkShards partitions by a hash of the source id (see
// entity.ShardKey), each row in the partition of its link's shard.

// linkKey is the key of a link, and its shard.
func linkKey(target, sourceID string) (entity.Key, int, error) {
	k, err := entity.LinkKey(target, sourceID)
	if err != nil {
		return entity.Key{}, 0, err
	}
	shard := entity.LinkShard(k.RK[len(linkRowPrefix()):])
	return entity.ShardKey(k, shard), shard, nil
}

// indexKey is the key of a link's reverse-index row, in the link's
// partition.
func indexKey(target, targetID, sourceID string) (entity.Key, error) {
	k, err := entity.IndexKey(target, targetID, sourceID)
	if err != nil {
		return entity.Key{}, err
	}
	shard, err := entity.SourceShard(sourceID)
	if err != nil {
		return entity.Key{}, err
	}
	return entity.ShardKey(k, shard), nil
}

// countsKey is the key of shard shard's link counts row, in the shard's
// partition.
func countsKey(target string, shard int) (entity.Key, error) {
	k, err := entity.CountsKey(target, shard)
	if err != nil {
		return entity.Key{}, err
	}
	return entity.ShardKey(k, shard), nil
}

// partitions are the partitions of a target's links, by shard.
func partitions(target string) ([countShards]string, error) {
	var pks [countShards]string
	enc, err := entity.EncodeKey(target)
	if err != nil {
		return pks, err
	}
	for i := range pks {
		pks[i] = entity.ShardPartition(enc, i)
	}
	return pks, nil
}

// linkRowPrefix is what starts a link's row key (the start of LinkRange).
func linkRowPrefix() string {
	lo, _ := entity.LinkRange()
	return lo
}
