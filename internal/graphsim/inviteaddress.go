package graphsim

import (
	"net/http"
	"strings"
)

// invalidInviteChars are the special characters the invitation resource
// page does not allow in invitedUserEmailAddress: tilde, exclamation point,
// number sign, dollar sign, percent, circumflex, ampersand, asterisk,
// parentheses, plus, equal sign, brackets, braces, backslash, slash, pipe,
// semicolon, colon, quotation marks, angle brackets, question mark and
// comma. A space is not an address character at all.
const invalidInviteChars = "~!#$%^&*()+=[]{}\\/|;:\"<>?, "

// validInvitedAddress applies the invitation resource page's rules to an
// invitedUserEmailAddress: none of invalidInviteChars anywhere, one "@"
// with a user name before it and a domain after it, and, as the page's
// exceptions say, a period or hyphen anywhere in the user name "except at
// the beginning or end of the name"; an underscore is allowed anywhere.
// The page lists the characters for the address as a whole, so the domain
// is held to them too (the stricter reading).
func validInvitedAddress(addr string) bool {
	if strings.ContainsAny(addr, invalidInviteChars) {
		return false
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return false
	}
	name, domain := addr[:at], addr[at+1:]
	if strings.Contains(name, "@") {
		return false
	}
	for _, edge := range []byte{name[0], name[len(name)-1]} {
		if edge == '.' || edge == '-' {
			return false
		}
	}
	return !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".") && !strings.Contains(domain, "..")
}

// errInvalidInvitedAddress is what Graph answers an invitation to an
// address it does not accept (reported for a "+" in
// https://github.com/microsoftgraph/msgraph-sdk-dotnet/issues/2786 and
// https://github.com/microsoftgraph/microsoft-graph-docs/issues/5883).
func errInvalidInvitedAddress() *graphError {
	return newError(http.StatusBadRequest, "BadRequest", "The Primary SMTP Address is an invalid value")
}
