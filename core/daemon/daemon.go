package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"

	"github.com/valyala/fasthttp"
)

// NewLogger returns a text logger at the --log_level given (debug, info,
// warn or error).
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid value %q for flag --log_level: want debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

// FasthttpLogger routes fasthttp's messages to a slog logger at debug
// level.
type FasthttpLogger struct{ Log *slog.Logger }

// Printf implements fasthttp.Logger.
func (l FasthttpLogger) Printf(format string, args ...any) {
	l.Log.Debug("fasthttp", "msg", fmt.Sprintf(format, args...))
}

// WriteJSON answers with v as JSON.
func WriteJSON(ctx *fasthttp.RequestCtx, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		WriteError(ctx, 500, err.Error())
		return
	}
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// WriteError answers with a JSON body {"error": msg}.
func WriteError(ctx *fasthttp.RequestCtx, code int, msg string) {
	b, _ := json.Marshal(map[string]string{"error": msg})
	ctx.SetStatusCode(code)
	ctx.SetContentType("application/json")
	ctx.SetBody(b)
}

// RequireJSONPost enforces POST with Content-Type application/json,
// answering 405 or 415 otherwise; it reports whether the request may go
// on.
func RequireJSONPost(ctx *fasthttp.RequestCtx) bool {
	if !ctx.IsPost() {
		ctx.Response.Header.Set("Allow", "POST")
		WriteError(ctx, 405, "expecting POST")
		return false
	}
	ct, _, _ := mime.ParseMediaType(string(ctx.Request.Header.ContentType()))
	switch ct {
	case "application/json":
		return true
	case "application/x-protobuf":
		WriteError(ctx, 415, "Content-Type application/x-protobuf is not supported: meseta speaks the v1 API in JSON; send application/json")
	case "":
		WriteError(ctx, 415, "expecting Content-Type application/json")
	default:
		WriteError(ctx, 415, fmt.Sprintf("unsupported Content-Type %q: send application/json", ct))
	}
	return false
}
