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
