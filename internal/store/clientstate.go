package store

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// clientStateHashPrefix marks a Subscription.ClientState that holds the
// SHA-256 of the secret rather than the secret.
const clientStateHashPrefix = "sha256:"

// HashClientState returns what a Subscription records of a clientState
// secret: its SHA-256, so that whoever reads the store (a backup, a
// Storage reader role) cannot forge notifications. The secret is 256
// random bits (subscriptions.NewClientState): a plain hash cannot be
// reversed by guessing.
func HashClientState(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return clientStateHashPrefix + hex.EncodeToString(sum[:])
}

// ClientStateMatches reports, in constant time, whether got is the secret
// a Subscription recorded as stored: its hash, or the secret in clear in
// records written before hashing (until the subscription is re-created).
// An empty record matches nothing.
func ClientStateMatches(stored, got string) bool {
	if stored == "" {
		return false
	}
	want := stored
	if strings.HasPrefix(stored, clientStateHashPrefix) {
		got = HashClientState(got)
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
