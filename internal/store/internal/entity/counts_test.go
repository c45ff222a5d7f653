package entity

import "testing"

// TestCountsKeys: counts rows round-trip their shard and sort outside the
// links' and the reverse index's row ranges, so that no listing of either
// returns them, whatever the ids.
func TestCountsKeys(t *testing.T) {
	linkLo, linkHi := LinkRange()
	countsLo, countsHi := CountsRange()
	for shard := range MaxCountShards {
		k, err := CountsKey("contoso", shard)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := CountsShard(k.RK); err != nil || got != shard {
			t.Errorf("CountsShard(%q) = %d, %v, want %d", k.RK, got, err, shard)
		}
		if k.RK < countsLo || k.RK >= countsHi {
			t.Errorf("%q is outside CountsRange [%q, %q)", k.RK, countsLo, countsHi)
		}
		if k.RK >= linkLo && k.RK < linkHi {
			t.Errorf("%q is in LinkRange", k.RK)
		}
		if k.RK >= indexPrefix {
			t.Errorf("%q sorts among the reverse-index rows", k.RK)
		}
	}
	for _, id := range []string{"", "c00", "~", "\xff"} {
		lo, hi, err := IndexRange(id)
		if err != nil {
			t.Fatal(err)
		}
		if !(countsHi <= lo && countsHi <= hi) {
			t.Errorf("IndexRange(%q) = [%q, %q) reaches the counts rows", id, lo, hi)
		}
		l, err := LinkKey("contoso", id)
		if err != nil {
			t.Fatal(err)
		}
		if l.RK >= countsLo && l.RK < countsHi {
			t.Errorf("link %q has a counts row key %q", id, l.RK)
		}
	}
	for _, rk := range []string{"c", "c0", "c000", "cG0", "s00", "C00", "c0A"} {
		if _, err := CountsShard(rk); err == nil {
			t.Errorf("CountsShard(%q) accepted", rk)
		}
	}
	if _, err := CountsKey("contoso", MaxCountShards); err == nil {
		t.Error("CountsKey accepted a shard out of range")
	}
}

// TestShardPartitions: a shard's partition names its target and shard and
// nothing else, for targets that extend each other or hold the separator,
// and is never a partition of the one-partition layout or the layout
// record's.
func TestShardPartitions(t *testing.T) {
	targets := []string{"contoso", "contoso-x", "contoso:0", "contoso:0a", "contoso:", ":", "", "!", "a~", "~", "\xff", "contoso\x00"}
	seen := map[string]string{}
	for _, target := range targets {
		enc, err := EncodeKey(target)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := ParseShardPartition(enc); ok {
			t.Errorf("one-partition layout partition %q parses as a shard", enc)
		}
		for shard := range LinkShards {
			pk := ShardPartition(enc, shard)
			if prev, dup := seen[pk]; dup {
				t.Errorf("partition %q of %q is also %s", pk, target, prev)
			}
			seen[pk] = target
			gotEnc, gotShard, ok := ParseShardPartition(pk)
			if !ok || gotEnc != enc || gotShard != shard {
				t.Errorf("ParseShardPartition(%q) = %q, %d, %v; want %q, %d", pk, gotEnc, gotShard, ok, enc, shard)
			}
			if pk == LayoutKey().PK {
				t.Errorf("partition %q is the layout record's", pk)
			}
		}
	}
	if _, _, ok := ParseShardPartition(LayoutKey().PK); ok {
		t.Errorf("the layout record's partition parses as a shard")
	}
	for _, pk := range []string{"a:10", "a:0A", "a:1", "a:000", ":00", "a:0g"} {
		if _, _, ok := ParseShardPartition(pk); ok {
			t.Errorf("ParseShardPartition(%q) accepted", pk)
		}
	}
}

// TestRowShard: every row of a link moves to the shard of its source id.
func TestRowShard(t *testing.T) {
	for _, id := range []string{"", "a", "6f1c8a4e-2f0b-4c8e-9d2b-5a0f3e1d7c9b", "a:b", "\xff"} {
		want, err := SourceShard(id)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := LinkKey("contoso", id)
		x, _ := IndexKey("contoso", "t:"+id, id)
		for _, rk := range []string{l.RK, x.RK} {
			if got, err := RowShard(rk); err != nil || got != want {
				t.Errorf("RowShard(%q) = %d, %v; want %d", rk, got, err, want)
			}
		}
	}
	c, _ := CountsKey("contoso", 5)
	if got, err := RowShard(c.RK); err != nil || got != 5 {
		t.Errorf("RowShard(%q) = %d, %v", c.RK, got, err)
	}
	for _, rk := range []string{"c10", "x", "t", "s~"} {
		if _, err := RowShard(rk); err == nil {
			t.Errorf("RowShard(%q) accepted", rk)
		}
	}
}
