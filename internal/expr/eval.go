package expr

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Eval evaluates the expression against env. The result is nil, string,
// bool, int64 or []string; DateTime values come out as strings in Entra's
// format, "M/d/yyyy h:mm:ss tt" in UTC. When IgnoreFlowIfNullOrEmpty drops
// the attribute, the error is ErrIgnoreFlow. Other errors name the function
// and the column of the call that failed.
func (e *Expr) Eval(env *Env) (any, error) {
	if env == nil {
		env = &Env{}
	}
	ev := evaluator{env: env, src: e.src}
	v, err := ev.eval(e.root)
	if err != nil {
		return nil, err
	}
	return export(v), nil
}

type evaluator struct {
	env *Env
	src string
}

// evalError is an evaluation failure inside a function call; it names the
// innermost call that failed and is not wrapped again by the calls around it.
type evalError struct {
	fn     string
	column int
	err    error
}

func (e *evalError) Error() string {
	return fmt.Sprintf("%s at column %d: %v", e.fn, e.column, e.err)
}

func (e *evalError) Unwrap() error { return e.err }

func (ev *evaluator) column(off int) int {
	return utf8.RuneCountInString(ev.src[:min(off, len(ev.src))]) + 1
}

func (ev *evaluator) now() time.Time {
	if ev.env.Now != nil {
		return ev.env.Now().UTC()
	}
	return time.Now().UTC()
}

func (ev *evaluator) random(b []byte) {
	if ev.env.Random != nil {
		ev.env.Random(b)
		return
	}
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
}

// attr looks an attribute up by its Graph name; Graph names are
// case-insensitive, so a differently cased reference still finds it.
func (ev *evaluator) attr(name string) any {
	if v, ok := ev.env.Attrs[name]; ok {
		return normalizeAttr(v)
	}
	for k, v := range ev.env.Attrs {
		if strings.EqualFold(k, name) {
			return normalizeAttr(v)
		}
	}
	return nil
}

func (ev *evaluator) eval(n node) (any, error) {
	switch n := n.(type) {
	case *attrNode:
		return ev.attr(n.name), nil
	case *strNode:
		return n.val, nil
	case *numNode:
		return n.val, nil
	case *boolNode:
		return n.val, nil
	case *constNode:
		return n.val, nil
	case *absentNode:
		return nil, nil
	case *cmpNode:
		return ev.compare(n)
	case *callNode:
		var v any
		var err error
		if n.fn.lazy != nil {
			v, err = n.fn.lazy(ev, n)
		} else {
			args := make([]any, len(n.args))
			for i, a := range n.args {
				if args[i], err = ev.eval(a); err != nil {
					return nil, err
				}
			}
			v, err = n.fn.eager(ev, n, args)
		}
		if err != nil {
			var inner *evalError
			if errors.Is(err, ErrIgnoreFlow) || errors.As(err, &inner) {
				return nil, err
			}
			return nil, &evalError{fn: n.fn.name, column: ev.column(n.off), err: err}
		}
		return v, nil
	}
	return nil, fmt.Errorf("expr: unknown node %T", n)
}

// compare evaluates a comparison. A comparison with a null side is false, as
// Entra's IIF fails its condition on a null or empty attribute. Numbers
// compare as numbers when the other side is a number or a numeric string,
// dates as dates, booleans as booleans; everything else as case-sensitive
// strings.
func (ev *evaluator) compare(n *cmpNode) (any, error) {
	l, err := ev.eval(n.left)
	if err != nil {
		return nil, err
	}
	r, err := ev.eval(n.right)
	if err != nil {
		return nil, err
	}
	if isNull(l) || isNull(r) {
		return false, nil
	}
	c, err := order(l, r)
	if err != nil {
		return nil, &evalError{fn: "comparison " + n.op, column: ev.column(n.off), err: err}
	}
	switch n.op {
	case "=":
		return c == 0, nil
	case "<>":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return nil, fmt.Errorf("unknown operator %s", n.op)
}

func cmp3[T int64 | string](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func order(l, r any) (int, error) {
	_, lNum := l.(int64)
	_, rNum := r.(int64)
	if lNum || rNum {
		a, errA := toInt(l)
		b, errB := toInt(r)
		if errA == nil && errB == nil {
			return cmp3(a, b), nil
		}
	}
	_, lBool := l.(bool)
	_, rBool := r.(bool)
	if lBool || rBool {
		a, errA := toBool(l)
		b, errB := toBool(r)
		if errA == nil && errB == nil {
			switch {
			case a == b:
				return 0, nil
			case !a:
				return -1, nil
			}
			return 1, nil
		}
	}
	_, lDate := l.(dateTime)
	_, rDate := r.(dateTime)
	if lDate || rDate {
		a, errA := toDate(l)
		b, errB := toDate(r)
		if errA == nil && errB == nil {
			return a.t.Compare(b.t), nil
		}
	}
	a, err := toStr(l)
	if err != nil {
		return 0, err
	}
	b, err := toStr(r)
	if err != nil {
		return 0, err
	}
	return cmp3(a, b), nil
}
