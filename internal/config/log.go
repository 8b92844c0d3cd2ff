package config

import (
	"io"
	"log/slog"
)

// parseLevel maps the log.level names to slog levels.
func parseLevel(s string) (slog.Level, bool) {
	switch s {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// SlogLevel returns the configured level; an unvalidated, unknown name
// yields slog.LevelInfo.
func (l Log) SlogLevel() slog.Level {
	lvl, _ := parseLevel(l.Level)
	return lvl
}

// NewLogger returns a logger writing to w in the configured format and at
// the configured level.
func (l Log) NewLogger(w io.Writer) *slog.Logger {
	return l.NewLoggerLevel(w, l.SlogLevel())
}

// NewLoggerLevel is NewLogger with the level given by lvl, which may be a
// *slog.LevelVar that changes at run time (a configuration reload).
func (l Log) NewLoggerLevel(w io.Writer, lvl slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: lvl}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
