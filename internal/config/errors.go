package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem in a config: where it is and what is wrong.
type FieldError struct {
	// Path names the key, as in "targets[0].scope.filters[1][0].value"; it is
	// empty for a problem with the document as a whole.
	Path string
	// File is the document's name (the config file, or
	// TENANTSYNC_CONFIG_JSON); empty for a config built in code.
	File string
	// Line is the 1-based line of the key in the document, 0 when unknown.
	Line int
	// Msg says what is wrong and, where it helps, how to fix it.
	Msg string
}

// Error formats the problem as "path: message (file:line)".
func (e *FieldError) Error() string {
	s := e.Msg
	if e.Path != "" {
		s = e.Path + ": " + s
	}
	switch {
	case e.File != "" && e.Line > 0:
		s += fmt.Sprintf(" (%s:%d)", e.File, e.Line)
	case e.Line > 0:
		s += fmt.Sprintf(" (line %d)", e.Line)
	case e.File != "":
		s += " (" + e.File + ")"
	}
	return s
}

// Errors are all the problems found in a config, in document order. Its
// Error is one problem per line.
type Errors []*FieldError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find each *FieldError.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// sortByLine orders problems by where they are in the document; those with
// no line keep their order, after the others.
func (es Errors) sortByLine() {
	slices.SortStableFunc(es, func(a, b *FieldError) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.Line, b.Line)
	})
}

// errorList collects problems while a config is decoded or validated.
type errorList struct {
	errs  Errors
	lines map[string]int // path → line, from the decoded document
	file  string
}

// add records a problem at path, on the line the document has for it (or
// for the nearest enclosing key that has one).
func (l *errorList) add(path, format string, args ...any) {
	l.addAt(path, l.lineOf(path), format, args...)
}

func (l *errorList) addAt(path string, line int, format string, args ...any) {
	l.errs = append(l.errs, &FieldError{Path: path, File: l.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (l *errorList) lineOf(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if line, ok := l.lines[p]; ok {
			return line
		}
	}
	return 0
}

// parentPath strips the last step of a path: "a.b[2]" → "a.b" → "a" → "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

// joinPath appends a key to a path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// indexPath appends an index to a path.
func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
