package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"sharpeyes/authn"
	"sharpeyes/cases"
	"sharpeyes/events"
	"sharpeyes/recording"
	"sharpeyes/registry"
	"sharpeyes/relay"
	"sharpeyes/relay/webrtc"
)

var (
	// ErrUnauthorized means the request proved nobody (401): the
	// authenticator's ErrUnauthenticated.
	ErrUnauthorized = authn.ErrUnauthenticated
	// ErrForbidden means the principal is known but may not do this (403).
	ErrForbidden = authn.ErrForbidden
	// ErrNoPTZ is a PTZ command for a camera that takes none (409).
	ErrNoPTZ = errors.New("the camera takes no PTZ commands")
	// ErrBusy means a bounded resource (event streams) is full; retry later.
	ErrBusy = errors.New("busy")
	// ErrNoAnswer is a device that did not answer the gateway in time
	// (504).
	ErrNoAnswer = errors.New("the device did not answer")
	// ErrTooMany means the caller has as many of a thing under way as it
	// may (429, e.g. exports); retry when one ends.
	ErrTooMany = errors.New("too many at once")
	// ErrBadRequest marks malformed input (bad JSON, bad query values).
	ErrBadRequest = errors.New("bad request")
	// ErrTooLarge means the body exceeded http.max_body_bytes.
	ErrTooLarge = errors.New("request body too large")
	// ErrUnsupportedMedia means the Content-Type is not the one required.
	ErrUnsupportedMedia = errors.New("unsupported content type")
)

// apiError is the JSON error body: {"error": "...", "field": "..."}.
type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// statusOf maps sentinel errors to HTTP status codes.
func statusOf(err error) int {
	if code, ok := photoStatus(err); ok {
		return code
	}
	switch {
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrTooMany):
		return http.StatusTooManyRequests
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, ErrUnsupportedMedia):
		return http.StatusUnsupportedMediaType
	case errors.Is(err, registry.ErrNotFound), errors.Is(err, relay.ErrUnknownCamera), errors.Is(err, webrtc.ErrSessionNotFound),
		errors.Is(err, cases.ErrNotFound), errors.Is(err, events.ErrNotFound), errors.Is(err, authn.ErrHidden),
		errors.Is(err, recording.ErrNoFootage), errors.Is(err, recording.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, cases.ErrTransition), errors.Is(err, recording.ErrClipNotReady), errors.Is(err, ErrNoPTZ):
		return http.StatusConflict
	case errors.Is(err, recording.ErrBadRange):
		return http.StatusBadRequest
	case errors.Is(err, cases.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, cases.ErrMissing), errors.Is(err, events.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, registry.ErrExists):
		return http.StatusConflict
	case errors.Is(err, registry.ErrInvalid), errors.Is(err, ErrBadRequest), errors.Is(err, webrtc.ErrBadOffer), errors.Is(err, relay.ErrUnknownStream):
		return http.StatusBadRequest
	case errors.Is(err, webrtc.ErrCodecNotOffered):
		return http.StatusNotAcceptable
	case errors.Is(err, ErrNoAnswer):
		return http.StatusGatewayTimeout
	case errors.Is(err, registry.ErrUnavailable), errors.Is(err, relay.ErrSourceUnavailable), errors.Is(err, webrtc.ErrTooManySessions),
		errors.Is(err, ErrBusy):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// writeError answers with the status for err and a JSON body naming the
// field at fault when there is one.
func writeError(c *gin.Context, err error) {
	code := statusOf(err)
	body := apiError{Error: err.Error()}
	var fe *registry.FieldError
	if errors.As(err, &fe) {
		body.Field = fe.Field
	}
	var qe *queryError
	if errors.As(err, &qe) {
		body.Field = qe.field
	}
	if code == http.StatusInternalServerError {
		body.Error = "internal error"
	}
	if code == http.StatusServiceUnavailable {
		c.Header("Retry-After", "2")
	}
	c.AbortWithStatusJSON(code, body)
}

// queryError is a bad query parameter.
type queryError struct {
	field, msg string
}

func (e *queryError) Error() string { return fmt.Sprintf("%s: %s", e.field, e.msg) }
func (e *queryError) Unwrap() error { return ErrBadRequest }

// bindJSON decodes a JSON body strictly, with messages that name the field.
func bindJSON(c *gin.Context, v any) error {
	if ct := c.ContentType(); ct != "application/json" && ct != "" {
		return fmt.Errorf("%w: want application/json, got %s", ErrUnsupportedMedia, ct)
	}
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrBadRequest)
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return fmt.Errorf("%w (limit %d bytes)", ErrTooLarge, mbe.Limit)
	case errors.Is(err, io.EOF):
		return fmt.Errorf("%w: empty body, want a JSON object", ErrBadRequest)
	case errors.As(err, &se):
		return fmt.Errorf("%w: invalid JSON at byte %d", ErrBadRequest, se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: truncated JSON", ErrBadRequest)
	case errors.As(err, &te):
		return &queryError{field: te.Field, msg: fmt.Sprintf("must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &queryError{field: f, msg: "unknown field"}
	}
	return fmt.Errorf("%w: %v", ErrBadRequest, err)
}

func jsonKind(k string) string {
	switch k {
	case "float64", "int", "int64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "a " + k
}
