package directory_test

import (
	"testing"

	"github.com/tenantsync/tenantsync/internal/directory"
)

func TestFormat(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{nil, "∅"},
		{"", "∅"},
		{"Sales", "Sales"},
		{[]string{}, "[]"},
		{[]string{"+1 555", "+1 556"}, "[+1 555, +1 556]"},
		{[]any{"a", 2}, "[a, 2]"},
		{true, "true"},
		{42.5, "42.5"},
	}
	for _, tt := range tests {
		if got := directory.Format(tt.in); got != tt.want {
			t.Errorf("Format(%#v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIsEmptyAndEqual(t *testing.T) {
	tests := []struct {
		x, y  any
		equal bool
	}{
		{nil, "", true},
		{nil, []string{}, true},
		{"a", "a", true},
		{"a", "A", false},
		{[]string{"a"}, []string{"a", "b"}, false},
		{true, false, false},
	}
	for _, tt := range tests {
		if got := directory.Equal(tt.x, tt.y); got != tt.equal {
			t.Errorf("Equal(%#v, %#v) = %t, want %t", tt.x, tt.y, got, tt.equal)
		}
	}
	if !directory.IsEmpty(nil) || !directory.IsEmpty("") || !directory.IsEmpty([]string{}) || directory.IsEmpty("x") || directory.IsEmpty(false) {
		t.Error("IsEmpty: nil, \"\" and [] are empty; \"x\" and false are not")
	}
}
