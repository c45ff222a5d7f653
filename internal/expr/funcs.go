package expr

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
)

// function describes one function of the language.
type function struct {
	name   string
	params []string // parameter names, for messages; variadic functions repeat the last
	min    int
	max    int  // < 0: no upper bound
	even   bool // the argument count must be even (Switch)
	// optional reports whether argument i of n may be left empty.
	optional func(i, n int) bool
	// Exactly one of eager and lazy is set. eager gets the evaluated
	// arguments (nil for an empty one); lazy evaluates what it needs.
	eager func(ev *evaluator, c *callNode, args []any) (any, error)
	lazy  func(ev *evaluator, c *callNode) (any, error)
	// check validates literal arguments at parse time and prepares the call.
	check func(c *callNode) error
}

func (f *function) checkCount(n int) string {
	plural := func(k int) string {
		if k == 1 {
			return "1 argument"
		}
		return fmt.Sprintf("%d arguments", k)
	}
	switch {
	case f.even && (n < f.min || n%2 != 0):
		return fmt.Sprintf("%s expects an even number of arguments, at least %d (%s, then key and value pairs), got %d",
			f.name, f.min, strings.Join(f.params[:2], ", "), n)
	case f.max == 0 && n != 0:
		return fmt.Sprintf("%s expects no arguments, got %d", f.name, n)
	case f.min == f.max && n != f.min:
		return fmt.Sprintf("%s expects %s, got %d", f.name, plural(f.min), n)
	case f.max < 0 && n < f.min:
		return fmt.Sprintf("%s expects at least %s, got %d", f.name, plural(f.min), n)
	case f.max > 0 && (n < f.min || n > f.max):
		return fmt.Sprintf("%s expects %d to %d arguments, got %d", f.name, f.min, f.max, n)
	}
	return ""
}

func (f *function) mayBeAbsent(i, n int) bool { return f.optional != nil && f.optional(i, n) }

func (f *function) argName(i int) string {
	if i < len(f.params) {
		return f.params[i]
	}
	return f.params[len(f.params)-1]
}

func lookupFunction(name string) *function { return functions[name] }

func lookupFunctionFold(name string) *function {
	for n, f := range functions {
		if strings.EqualFold(n, name) {
			return f
		}
	}
	return nil
}

func from(k int) func(i, n int) bool { return func(i, n int) bool { return i >= k } }
func only(k int) func(i, n int) bool { return func(i, n int) bool { return i == k } }

// functions is the function table, by the exact (case-sensitive) name.
var functions = func() map[string]*function {
	list := []*function{
		{name: "Append", params: []string{"source", "suffix"}, min: 2, max: 2, eager: fnAppend},
		{name: "BitAnd", params: []string{"value1", "value2"}, min: 2, max: 2, eager: fnBitAnd},
		{name: "CBool", params: []string{"expression"}, min: 1, max: 1, eager: fnCBool},
		{name: "CDate", params: []string{"expression"}, min: 1, max: 1, eager: fnCDate},
		{name: "Coalesce", params: []string{"source"}, min: 1, max: -1, lazy: fnCoalesce,
			optional: func(i, n int) bool { return i > 0 && i == n-1 }},
		{name: "ConvertToBase64", params: []string{"source"}, min: 1, max: 1, eager: fnConvertToBase64},
		{name: "ConvertToUTF8Hex", params: []string{"source"}, min: 1, max: 1, eager: fnConvertToUTF8Hex},
		{name: "Count", params: []string{"attribute"}, min: 1, max: 1, eager: fnCount},
		{name: "CStr", params: []string{"value"}, min: 1, max: 1, eager: fnCStr},
		{name: "DateAdd", params: []string{"interval", "value", "dateTime"}, min: 3, max: 3, eager: fnDateAdd, check: checkInterval},
		{name: "DateDiff", params: []string{"interval", "date1", "date2"}, min: 3, max: 3, eager: fnDateDiff, check: checkInterval},
		{name: "DateFromNum", params: []string{"value"}, min: 1, max: 1, eager: fnDateFromNum},
		{name: "FormatDateTime", params: []string{"source", "dateTimeStyles", "inputFormat", "outputFormat"}, min: 4, max: 4,
			optional: only(1), eager: fnFormatDateTime, check: checkFormatDateTime},
		{name: "Guid", params: []string{}, min: 0, max: 0, eager: fnGuid},
		{name: "IgnoreFlowIfNullOrEmpty", params: []string{"expression"}, min: 1, max: 1, eager: fnIgnoreFlow},
		{name: "IIF", params: []string{"condition", "valueIfTrue", "valueIfFalse"}, min: 3, max: 3, lazy: fnIIF},
		{name: "InStr", params: []string{"value1", "value2", "start", "compareType"}, min: 2, max: 4,
			optional: from(2), eager: fnInStr, check: checkInStr},
		{name: "IsNull", params: []string{"expression"}, min: 1, max: 1, eager: fnIsNull},
		{name: "IsNullOrEmpty", params: []string{"expression"}, min: 1, max: 1, eager: fnIsNullOrEmpty},
		{name: "IsPresent", params: []string{"expression"}, min: 1, max: 1, eager: fnIsPresent},
		{name: "IsString", params: []string{"expression"}, min: 1, max: 1, eager: fnIsString},
		{name: "Item", params: []string{"attribute", "index"}, min: 2, max: 2, eager: fnItem, check: checkItem},
		{name: "Join", params: []string{"separator", "source"}, min: 2, max: -1, eager: fnJoin},
		{name: "Left", params: []string{"string", "numChars"}, min: 2, max: 2, eager: fnLeft},
		{name: "Mid", params: []string{"source", "start", "length"}, min: 3, max: 3, eager: fnMid, check: checkMid},
		{name: "NormalizeDiacritics", params: []string{"source"}, min: 1, max: 1, eager: fnNormalizeDiacritics},
		{name: "Not", params: []string{"source"}, min: 1, max: 1, eager: fnNot},
		{name: "Now", params: []string{}, min: 0, max: 0, eager: fnNow},
		{name: "NumFromDate", params: []string{"value"}, min: 1, max: 1, eager: fnNumFromDate},
		{name: "PCase", params: []string{"source", "wordSeparators"}, min: 1, max: 2, optional: only(1), eager: fnPCase},
		{name: "RandomString", params: []string{"length", "minimumNumbers", "minimumSpecialCharacters", "minimumCapital",
			"minimumLowerCase", "charactersToAvoid"}, min: 5, max: 6, optional: only(5), eager: fnRandomString, check: checkRandomString},
		{name: "Redact", params: []string{"value"}, min: 1, max: 1, eager: fnRedact},
		{name: "RemoveDuplicates", params: []string{"attribute"}, min: 1, max: 1, eager: fnRemoveDuplicates},
		{name: "Replace", params: []string{"source", "oldValue", "regexPattern", "regexGroupName", "replacementValue",
			"replacementAttributeName", "template"}, min: 7, max: 7, optional: from(1), eager: fnReplace, check: checkReplace},
		{name: "SelectUniqueValue", params: []string{"uniqueValueRule"}, min: 2, max: -1, lazy: fnSelectUniqueValue},
		{name: "Split", params: []string{"source", "delimiter"}, min: 2, max: 2, eager: fnSplit},
		{name: "StripSpaces", params: []string{"source"}, min: 1, max: 1, eager: fnStripSpaces},
		{name: "Switch", params: []string{"source", "defaultValue", "key", "value"}, min: 4, max: -1, even: true,
			optional: only(1), lazy: fnSwitch},
		{name: "ToLower", params: []string{"source", "culture"}, min: 1, max: 2, optional: only(1), eager: caseFn(false)},
		{name: "ToUpper", params: []string{"source", "culture"}, min: 1, max: 2, optional: only(1), eager: caseFn(true)},
		{name: "Word", params: []string{"string", "wordNumber", "delimiters"}, min: 3, max: 3, eager: fnWord},
	}
	m := make(map[string]*function, len(list))
	for _, f := range list {
		m[f.name] = f
	}
	return m
}()

// FunctionNames returns the names of every function the language has, sorted.
func FunctionNames() []string {
	names := make([]string, 0, len(functions))
	for n := range functions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// strArg converts argument i to a string, naming it in the error.
func strArg(c *callNode, args []any, i int) (string, error) {
	s, err := toStr(args[i])
	if err != nil {
		return "", fmt.Errorf("%s %w", c.fn.argName(i), err)
	}
	return s, nil
}

func intArg(c *callNode, args []any, i int) (int64, error) {
	n, err := toInt(args[i])
	if err != nil {
		return 0, fmt.Errorf("%s %w", c.fn.argName(i), err)
	}
	return n, nil
}

// list returns a value as a list of strings: a multi-valued attribute as
// is, a single value as one element, null as none.
func list(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []string:
		return v, nil
	}
	s, err := toStr(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

func fnAppend(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) {
		return nil, nil
	}
	src, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	suffix, err := strArg(c, args, 1)
	if err != nil {
		return nil, err
	}
	return src + suffix, nil
}

func fnBitAnd(_ *evaluator, c *callNode, args []any) (any, error) {
	a, err := intArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	b, err := intArg(c, args, 1)
	if err != nil {
		return nil, err
	}
	return a & b, nil
}

func fnCBool(_ *evaluator, _ *callNode, args []any) (any, error) { return toBool(args[0]) }

func fnCDate(_ *evaluator, _ *callNode, args []any) (any, error) {
	if isEmpty(args[0]) {
		return nil, nil
	}
	return toDate(args[0])
}

func fnCoalesce(ev *evaluator, c *callNode) (any, error) {
	var last any
	for _, a := range c.args {
		v, err := ev.eval(a)
		if err != nil {
			return nil, err
		}
		if !isEmpty(v) {
			return v, nil
		}
		last = v
	}
	return last, nil
}

func fnConvertToBase64(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) {
		return nil, nil
	}
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	// "Unicode" in .NET is UTF-16, little endian.
	units := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		b = append(b, byte(u), byte(u>>8))
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

func fnConvertToUTF8Hex(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) {
		return nil, nil
	}
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	return strings.ToUpper(hex.EncodeToString([]byte(s))), nil
}

func fnCount(_ *evaluator, _ *callNode, args []any) (any, error) {
	if isEmpty(args[0]) {
		return int64(0), nil
	}
	l, err := list(args[0])
	return int64(len(l)), err
}

func fnCStr(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) {
		return nil, nil
	}
	return strArg(c, args, 0)
}

func checkInterval(c *callNode) error {
	if s, ok := c.args[0].(*strNode); ok {
		if _, err := dateInterval(s.val); err != nil {
			return &argError{arg: 0, err: err}
		}
	}
	return nil
}

func fnDateAdd(_ *evaluator, c *callNode, args []any) (any, error) {
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	interval, err := dateInterval(s)
	if err != nil {
		return nil, err
	}
	n, err := intArg(c, args, 1)
	if err != nil {
		return nil, err
	}
	if isEmpty(args[2]) {
		return nil, nil
	}
	d, err := toDate(args[2])
	if err != nil {
		return nil, fmt.Errorf("dateTime %w", err)
	}
	return dateAdd(interval, n, d)
}

func fnDateDiff(_ *evaluator, c *callNode, args []any) (any, error) {
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	interval, err := dateInterval(s)
	if err != nil {
		return nil, err
	}
	if isEmpty(args[1]) || isEmpty(args[2]) {
		return nil, nil
	}
	d1, err := toDate(args[1])
	if err != nil {
		return nil, fmt.Errorf("date1 %w", err)
	}
	d2, err := toDate(args[2])
	if err != nil {
		return nil, fmt.Errorf("date2 %w", err)
	}
	return dateDiff(interval, d1, d2), nil
}

func fnDateFromNum(_ *evaluator, c *callNode, args []any) (any, error) {
	if isEmpty(args[0]) {
		return nil, nil
	}
	n, err := intArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	return fromFileTime(n)
}

func checkFormatDateTime(c *callNode) error {
	if s, ok := c.args[1].(*strNode); ok {
		st, err := parseStyles(s.val)
		if err != nil {
			return &argError{arg: 1, err: err}
		}
		c.styles = &st
	} else if !isPresent(c.args[1]) {
		c.styles = &dateStyles{}
	}
	for i, dst := range []*[]fmtToken{&c.inFormat, &c.outFormat} {
		if s, ok := c.args[2+i].(*strNode); ok {
			toks, err := parseFormat(s.val)
			if err != nil {
				return &argError{arg: 2 + i, err: err}
			}
			*dst = toks
		}
	}
	return nil
}

func fnFormatDateTime(ev *evaluator, c *callNode, args []any) (any, error) {
	if isEmpty(args[0]) {
		return nil, nil
	}
	styles := c.styles
	if styles == nil {
		s, err := strArg(c, args, 1)
		if err != nil {
			return nil, err
		}
		st, err := parseStyles(s)
		if err != nil {
			return nil, err
		}
		styles = &st
	}
	formats := [2][]fmtToken{c.inFormat, c.outFormat}
	for i := range formats {
		if formats[i] != nil {
			continue
		}
		s, err := strArg(c, args, 2+i)
		if err != nil {
			return nil, err
		}
		if formats[i], err = parseFormat(s); err != nil {
			return nil, err
		}
	}
	var d dateTime
	if dt, ok := args[0].(dateTime); ok {
		d = dt
	} else {
		src, err := strArg(c, args, 0)
		if err != nil {
			return nil, err
		}
		if d, err = parseExact(src, formats[0], *styles, ev.now()); err != nil {
			return nil, err
		}
	}
	return formatDate(d, formats[1]), nil
}

func fnGuid(ev *evaluator, _ *callNode, _ []any) (any, error) {
	var b [16]byte
	ev.random(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

func fnIgnoreFlow(_ *evaluator, _ *callNode, args []any) (any, error) {
	if isEmpty(args[0]) {
		return nil, ErrIgnoreFlow
	}
	return args[0], nil
}

func fnIIF(ev *evaluator, c *callNode) (any, error) {
	cond, err := ev.eval(c.args[0])
	if err != nil {
		return nil, err
	}
	b, err := toBool(cond)
	if err != nil {
		return nil, fmt.Errorf("condition %w", err)
	}
	if b {
		return ev.eval(c.args[1])
	}
	return ev.eval(c.args[2])
}

func checkInStr(c *callNode) error {
	if len(c.args) < 4 {
		return nil
	}
	switch a := c.args[3].(type) {
	case *numNode:
		if a.val != 0 && a.val != 1 {
			return argErrorf(3, "compareType must be vbBinaryCompare or vbTextCompare")
		}
	case *boolNode:
		return argErrorf(3, "compareType must be vbBinaryCompare or vbTextCompare")
	}
	if n, ok := c.args[2].(*numNode); ok && n.val < 1 {
		return argErrorf(2, "start must be 1 or more, got %d", n.val)
	}
	return nil
}

func fnInStr(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) || isNull(args[1]) {
		return nil, nil
	}
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	needle, err := strArg(c, args, 1)
	if err != nil {
		return nil, err
	}
	start := int64(1)
	if len(args) > 2 && args[2] != nil {
		if start, err = intArg(c, args, 2); err != nil {
			return nil, err
		}
		if start < 1 {
			return nil, fmt.Errorf("start must be 1 or more, got %d", start)
		}
	}
	text := false
	if len(args) > 3 && args[3] != nil {
		switch v := args[3].(type) {
		case string:
			switch strings.ToLower(v) {
			case "vbtextcompare", "1":
				text = true
			case "vbbinarycompare", "0":
			default:
				return nil, fmt.Errorf("compareType %q is not vbBinaryCompare or vbTextCompare", v)
			}
		default:
			n, err := intArg(c, args, 3)
			if err != nil {
				return nil, err
			}
			text = n == 1
		}
	}
	return instr(s, needle, start, text), nil
}

func fnIsNull(_ *evaluator, _ *callNode, args []any) (any, error) { return isNull(args[0]), nil }

func fnIsNullOrEmpty(_ *evaluator, _ *callNode, args []any) (any, error) {
	return isEmpty(args[0]), nil
}

func fnIsPresent(_ *evaluator, _ *callNode, args []any) (any, error) { return !isEmpty(args[0]), nil }

func fnIsString(_ *evaluator, _ *callNode, args []any) (any, error) {
	switch args[0].(type) {
	case string, dateTime:
		return true, nil
	}
	return false, nil
}

func checkItem(c *callNode) error {
	if n, ok := c.args[1].(*numNode); ok && n.val < 1 {
		return argErrorf(1, "index starts at 1, got %d", n.val)
	}
	return nil
}

func fnItem(_ *evaluator, c *callNode, args []any) (any, error) {
	l, err := list(args[0])
	if err != nil {
		return nil, err
	}
	i, err := intArg(c, args, 1)
	if err != nil {
		return nil, err
	}
	if i < 1 || i > int64(len(l)) {
		return nil, nil
	}
	return l[i-1], nil
}

func fnJoin(_ *evaluator, c *callNode, args []any) (any, error) {
	sep, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	var parts []string
	for i, a := range args[1:] {
		l, err := list(a)
		if err != nil {
			return nil, fmt.Errorf("source%d %w", i+1, err)
		}
		for _, s := range l {
			if s != "" {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, sep), nil
}

func fnLeft(_ *evaluator, c *callNode, args []any) (any, error) {
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	n, err := intArg(c, args, 1)
	if err != nil {
		return nil, err
	}
	rs := []rune(s)
	if n < 0 || n >= int64(len(rs)) {
		return s, nil
	}
	return string(rs[:n]), nil
}

func checkMid(c *callNode) error {
	if n, ok := c.args[1].(*numNode); ok && n.val < 1 {
		return argErrorf(1, "start must be 1 or more, got %d", n.val)
	}
	if n, ok := c.args[2].(*numNode); ok && n.val < 0 {
		return argErrorf(2, "length must not be negative, got %d", n.val)
	}
	return nil
}

func fnMid(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) {
		return nil, nil
	}
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	start, err := intArg(c, args, 1)
	if err != nil {
		return nil, err
	}
	length, err := intArg(c, args, 2)
	if err != nil {
		return nil, err
	}
	if start < 1 {
		return nil, fmt.Errorf("start must be 1 or more, got %d", start)
	}
	if length < 0 {
		return nil, fmt.Errorf("length must not be negative, got %d", length)
	}
	rs := []rune(s)
	if start > int64(len(rs)) {
		return "", nil
	}
	end := min(start-1+length, int64(len(rs)))
	return string(rs[start-1 : end]), nil
}

func fnNormalizeDiacritics(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) {
		return nil, nil
	}
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	return normalizeDiacritics(s), nil
}

func fnNot(_ *evaluator, _ *callNode, args []any) (any, error) {
	switch v := args[0].(type) {
	case bool:
		return !v, nil
	case string:
		return !strings.EqualFold(strings.TrimSpace(v), "true"), nil
	case []string:
		return !(len(v) == 1 && strings.EqualFold(strings.TrimSpace(v[0]), "true")), nil
	}
	return true, nil
}

func fnNow(ev *evaluator, _ *callNode, _ []any) (any, error) {
	return dateTime{t: ev.now(), kind: kindUTC}, nil
}

func fnNumFromDate(_ *evaluator, _ *callNode, args []any) (any, error) {
	if isEmpty(args[0]) {
		return nil, nil
	}
	d, err := toDate(args[0])
	if err != nil {
		return nil, err
	}
	return toFileTime(d), nil
}

func fnPCase(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) {
		return nil, nil
	}
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	if len(args) > 1 && args[1] != nil {
		seps, err := strArg(c, args, 1)
		if err != nil {
			return nil, err
		}
		return pcase(s, &seps), nil
	}
	return pcase(s, nil), nil
}

func checkRandomString(c *callNode) error {
	var spec [5]int64
	for i := range spec {
		n, ok := c.args[i].(*numNode)
		if !ok {
			return nil
		}
		spec[i] = n.val
	}
	rs := randomSpec{spec[0], spec[1], spec[2], spec[3], spec[4]}
	if err := rs.validate(); err != nil {
		return err
	}
	return nil
}

func fnRandomString(ev *evaluator, c *callNode, args []any) (any, error) {
	var spec [5]int64
	for i := range spec {
		n, err := intArg(c, args, i)
		if err != nil {
			return nil, err
		}
		spec[i] = n
	}
	avoid := ""
	if len(args) > 5 {
		var err error
		if avoid, err = strArg(c, args, 5); err != nil {
			return nil, err
		}
	}
	return randomString(randomSpec{spec[0], spec[1], spec[2], spec[3], spec[4]}, avoid, ev.random)
}

func fnRedact(_ *evaluator, _ *callNode, args []any) (any, error) { return args[0], nil }

func fnRemoveDuplicates(_ *evaluator, _ *callNode, args []any) (any, error) {
	if l, ok := args[0].([]string); ok {
		return removeDuplicates(l), nil
	}
	return args[0], nil
}

func fnSelectUniqueValue(ev *evaluator, c *callNode) (any, error) {
	tried := 0
	for _, a := range c.args {
		v, err := ev.eval(a)
		if err != nil {
			return nil, err
		}
		if isEmpty(v) {
			continue
		}
		s, err := toStr(v)
		if err != nil {
			return nil, err
		}
		if ev.env.Exists == nil {
			return s, nil
		}
		tried++
		taken, err := ev.env.Exists(s)
		if err != nil {
			return nil, fmt.Errorf("check whether %q is taken: %w", s, err)
		}
		if !taken {
			return s, nil
		}
	}
	if tried == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("all %d candidate values are already taken", tried)
}

func fnSplit(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) {
		return nil, nil
	}
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	delim, err := strArg(c, args, 1)
	if err != nil {
		return nil, err
	}
	if delim == "" {
		return nil, errors.New("delimiter is empty")
	}
	out := []string{}
	for part := range strings.SplitSeq(s, delim) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out, nil
}

func fnStripSpaces(_ *evaluator, c *callNode, args []any) (any, error) {
	if isNull(args[0]) {
		return nil, nil
	}
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	return strings.ReplaceAll(s, " ", ""), nil
}

func fnSwitch(ev *evaluator, c *callNode) (any, error) {
	src, err := ev.eval(c.args[0])
	if err != nil {
		return nil, err
	}
	s, err := toStr(src)
	if err != nil {
		return nil, fmt.Errorf("source %w", err)
	}
	for k := 2; k+1 < len(c.args); k += 2 {
		key, err := ev.eval(c.args[k])
		if err != nil {
			return nil, err
		}
		ks, err := toStr(key)
		if err != nil {
			return nil, fmt.Errorf("key %w", err)
		}
		if ks == s {
			return ev.eval(c.args[k+1])
		}
	}
	return ev.eval(c.args[1])
}

func caseFn(upper bool) func(*evaluator, *callNode, []any) (any, error) {
	return func(_ *evaluator, c *callNode, args []any) (any, error) {
		if isNull(args[0]) {
			return nil, nil
		}
		s, err := strArg(c, args, 0)
		if err != nil {
			return nil, err
		}
		culture := ""
		if len(args) > 1 {
			if culture, err = strArg(c, args, 1); err != nil {
				return nil, err
			}
		}
		return caseFold(s, culture, upper), nil
	}
}

func fnWord(_ *evaluator, c *callNode, args []any) (any, error) {
	s, err := strArg(c, args, 0)
	if err != nil {
		return nil, err
	}
	n, err := intArg(c, args, 1)
	if err != nil {
		return nil, err
	}
	delims, err := strArg(c, args, 2)
	if err != nil {
		return nil, err
	}
	return word(s, n, delims), nil
}
