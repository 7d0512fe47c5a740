package main

import (
	"fmt"
	"io"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger returns a console logger writing to w at the given level
// (debug, info, warn, error). Traces are written at debug level.
func newLogger(level string, w io.Writer) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(strings.ToLower(level))); err != nil {
		return nil, usageError{fmt.Errorf("bad --log-level %q (debug, info, warn, error)", level)}
	}
	ec := zap.NewDevelopmentEncoderConfig()
	ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000000")
	ec.EncodeLevel = zapcore.CapitalLevelEncoder
	ec.CallerKey = ""
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(ec), zapcore.AddSync(w), lvl)
	return zap.New(core), nil
}
