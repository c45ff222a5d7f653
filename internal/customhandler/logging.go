package customhandler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

type loggerKey struct{}

type invocationIDKey struct{}

// LoggerFromContext returns the logger of the invocation or forwarded
// request that ctx belongs to: its records carry the invocation id and, for
// invocations, are also returned to the host in Response.Logs. Outside a
// request it returns slog.Default().
func LoggerFromContext(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return slog.Default()
}

// InvocationIDFromContext returns the host's invocation id of the request
// that ctx belongs to, or "".
func InvocationIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(invocationIDKey{}).(string)
	return id
}

func withRequest(ctx context.Context, id string, l *slog.Logger) context.Context {
	return context.WithValue(context.WithValue(ctx, invocationIDKey{}, id), loggerKey{}, l)
}

// logLines collects an invocation's formatted log records for
// Response.Logs, up to a limit so that a chatty handler cannot grow an
// answer without bound.
type logLines struct {
	mu      sync.Mutex
	lines   []string
	max     int
	dropped int
}

// Write takes one record: slog.TextHandler writes each record in one call.
func (l *logLines) Write(p []byte) (int, error) {
	line := strings.TrimRight(string(p), "\n")
	l.mu.Lock()
	if len(l.lines) < l.max {
		l.lines = append(l.lines, line)
	} else {
		l.dropped++
	}
	l.mu.Unlock()
	return len(p), nil
}

// take returns the collected lines, with a last line saying how many were
// dropped.
func (l *logLines) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	if l.dropped > 0 {
		lines = append(lines, fmt.Sprintf("level=WARN msg=\"%d more log lines dropped\"", l.dropped))
	}
	return lines
}

// teeHandler sends each record to the process log and to an invocation's
// collected lines.
type teeHandler struct {
	process slog.Handler
	collect slog.Handler
}

func (h teeHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.process.Enabled(ctx, level) || h.collect.Enabled(ctx, level)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	if h.process.Enabled(ctx, r.Level) {
		errs = append(errs, h.process.Handle(ctx, r.Clone()))
	}
	if h.collect.Enabled(ctx, r.Level) {
		errs = append(errs, h.collect.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (h teeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return teeHandler{process: h.process.WithAttrs(attrs), collect: h.collect.WithAttrs(attrs)}
}

func (h teeHandler) WithGroup(name string) slog.Handler {
	return teeHandler{process: h.process.WithGroup(name), collect: h.collect.WithGroup(name)}
}

// invocationLogger returns the logger of one invocation and the lines it
// collects. Process records carry the invocation id and function name; the
// collected lines leave them and the time out, since the host adds both.
func invocationLogger(base *slog.Logger, level slog.Leveler, maxLines int, id, function string) (*slog.Logger, *logLines) {
	lines := &logLines{max: maxLines}
	collect := slog.NewTextHandler(lines, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	process := base.Handler().WithAttrs([]slog.Attr{
		slog.String("invocationId", id),
		slog.String("function", function),
	})
	return slog.New(teeHandler{process: process, collect: collect}), lines
}
