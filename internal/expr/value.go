package expr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Values inside the evaluator are nil, string, bool, int64, []string and
// dateTime. dateTime never leaves Eval: it is rendered as Entra renders
// DateTime values, "M/d/yyyy h:mm:ss tt" in UTC.

// dateTime is the DateTime type of the language (CDate, Now, DateAdd,
// DateFromNum). t is always in UTC; kind remembers what .NET's DateTimeKind
// would be, which only the K format specifier shows.
type dateTime struct {
	t    time.Time
	kind dtKind
}

type dtKind uint8

const (
	kindUnspecified dtKind = iota
	kindUTC
	kindLocal // tenantsync, like Entra's provisioning service, runs on UTC
)

var errMultiValued = errors.New("expects a single value, got a multi-valued attribute")

// isNull reports whether v is null: nil, or a multi-valued attribute with no
// values.
func isNull(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case []string:
		return len(v) == 0
	}
	return false
}

// isEmpty reports whether v is null or an empty string.
func isEmpty(v any) bool {
	if s, ok := v.(string); ok {
		return s == ""
	}
	return isNull(v)
}

// toStr converts v to a string as .NET's ToString would; null gives "".
func toStr(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case bool:
		if v {
			return "True", nil
		}
		return "False", nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case dateTime:
		return formatDate(v, generalFormat), nil
	case []string:
		switch len(v) {
		case 0:
			return "", nil
		case 1:
			return v[0], nil
		}
		return "", errMultiValued
	}
	return "", fmt.Errorf("unsupported value of type %T", v)
}

// toInt converts v to an integer: numbers, and strings holding a decimal or
// &H hexadecimal integer.
func toInt(v any) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case nil:
		return 0, errors.New("expects a number, got null")
	case bool:
		return 0, fmt.Errorf("expects a number, got %v", v)
	case []string:
		if len(v) == 1 {
			return toInt(v[0])
		}
		return 0, errMultiValued
	case string:
		s := strings.TrimSpace(v)
		if len(s) > 2 && s[0] == '&' && (s[1] == 'H' || s[1] == 'h') {
			if n, err := strconv.ParseInt(s[2:], 16, 64); err == nil {
				return n, nil
			}
		}
		n, err := strconv.ParseInt(strings.TrimPrefix(s, "+"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("expects a number, got %q", v)
		}
		return n, nil
	case dateTime:
		return 0, errors.New("expects a number, got a date")
	}
	return 0, fmt.Errorf("expects a number, got %T", v)
}

// toBool converts v to a boolean as CBool does: booleans, numbers (non-zero
// is true), and the strings True and False in any case or holding a number.
// Null is false.
func toBool(v any) (bool, error) {
	switch v := v.(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	case int64:
		return v != 0, nil
	case []string:
		switch len(v) {
		case 0:
			return false, nil
		case 1:
			return toBool(v[0])
		}
		return false, errMultiValued
	case string:
		s := strings.TrimSpace(v)
		switch {
		case strings.EqualFold(s, "true"):
			return true, nil
		case strings.EqualFold(s, "false"):
			return false, nil
		case s == "":
			return false, nil
		}
		if n, err := toInt(s); err == nil {
			return n != 0, nil
		}
		return false, fmt.Errorf("expects True or False, got %q", v)
	case dateTime:
		return false, errors.New("expects True or False, got a date")
	}
	return false, fmt.Errorf("expects True or False, got %T", v)
}

// toDate converts v to a DateTime: dates, and strings CDate accepts.
func toDate(v any) (dateTime, error) {
	switch v := v.(type) {
	case dateTime:
		return v, nil
	case string:
		return parseDate(v)
	case []string:
		if len(v) == 1 {
			return parseDate(v[0])
		}
		return dateTime{}, errMultiValued
	case nil:
		return dateTime{}, errors.New("expects a date, got null")
	}
	return dateTime{}, fmt.Errorf("expects a date, got %v", v)
}

// normalizeAttr brings an attribute value from Env.Attrs to the evaluator's
// types, tolerating the Go types adapters are likely to hand over.
func normalizeAttr(v any) any {
	switch v := v.(type) {
	case nil, string, bool, int64, []string:
		return v
	case int:
		return int64(v)
	case int32:
		return int64(v)
	case float64:
		if v == float64(int64(v)) {
			return int64(v)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	case *string:
		if v == nil {
			return nil
		}
		return *v
	case *bool:
		if v == nil {
			return nil
		}
		return *v
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, err := toStr(normalizeAttr(e))
			if err == nil {
				out = append(out, s)
			}
		}
		return out
	case time.Time:
		return dateTime{t: v.UTC(), kind: kindUTC}
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

// export turns an evaluator value into a result value: dates become strings,
// lists are copied so that callers never share the environment's slices.
func export(v any) any {
	switch v := v.(type) {
	case dateTime:
		return formatDate(v, generalFormat)
	case []string:
		return append([]string(nil), v...)
	}
	return v
}
