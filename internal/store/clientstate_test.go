package store_test

import (
	"strings"
	"testing"

	"github.com/tenantsync/tenantsync/internal/store"
)

func TestClientStateMatches(t *testing.T) {
	const secret = "p9Kx2sV7-0123456789abcdefghijklmnopqrstuvwxyzAB"
	hashed := store.HashClientState(secret)
	if strings.Contains(hashed, secret) {
		t.Fatalf("the recorded value %q holds the secret", hashed)
	}
	tests := []struct {
		name   string
		stored string
		got    string
		want   bool
	}{
		{"hash, right secret", hashed, secret, true},
		{"hash, wrong secret", hashed, secret + "x", false},
		{"hash, the hash itself sent back", hashed, hashed, false},
		{"hash, empty", hashed, "", false},
		{"clear (older record), right secret", secret, secret, true},
		{"clear (older record), wrong secret", secret, "nope", false},
		{"nothing recorded", "", "", false},
		{"nothing recorded, anything sent", "", secret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.ClientStateMatches(tt.stored, tt.got); got != tt.want {
				t.Errorf("ClientStateMatches(%q, %q) = %t, want %t", tt.stored, tt.got, got, tt.want)
			}
		})
	}
}
