package webrtc

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pion/logging"
)

// pionLogs routes pion's logs into the gateway's slog logger, one shared
// logger per pion scope (pion's default factory builds several loggers for
// every peer connection and writes them to stderr). pion's errors are a
// single viewer's trouble (a write after it left), so they log as warnings.
type pionLogs struct {
	log *slog.Logger
	mu  sync.Mutex
	by  map[string]*pionLogger
}

func newPionLogs(log *slog.Logger) *pionLogs {
	return &pionLogs{log: log.With("component", "pion"), by: map[string]*pionLogger{}}
}

// NewLogger implements logging.LoggerFactory.
func (f *pionLogs) NewLogger(scope string) logging.LeveledLogger {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.by[scope]
	if l == nil {
		l = &pionLogger{log: f.log.With("scope", scope)}
		f.by[scope] = l
	}
	return l
}

type pionLogger struct{ log *slog.Logger }

func (l *pionLogger) logf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l *pionLogger) Trace(msg string)                  { l.logf(slog.LevelDebug-4, "%s", msg) }
func (l *pionLogger) Tracef(format string, args ...any) { l.logf(slog.LevelDebug-4, format, args...) }
func (l *pionLogger) Debug(msg string)                  { l.logf(slog.LevelDebug, "%s", msg) }
func (l *pionLogger) Debugf(format string, args ...any) { l.logf(slog.LevelDebug, format, args...) }
func (l *pionLogger) Info(msg string)                   { l.logf(slog.LevelDebug, "%s", msg) }
func (l *pionLogger) Infof(format string, args ...any)  { l.logf(slog.LevelDebug, format, args...) }
func (l *pionLogger) Warn(msg string)                   { l.logf(slog.LevelWarn, "%s", msg) }
func (l *pionLogger) Warnf(format string, args ...any)  { l.logf(slog.LevelWarn, format, args...) }
func (l *pionLogger) Error(msg string)                  { l.logf(slog.LevelWarn, "%s", msg) }
func (l *pionLogger) Errorf(format string, args ...any) { l.logf(slog.LevelWarn, format, args...) }
