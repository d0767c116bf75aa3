package ingest

import (
	"net/url"
	"strings"
)

// RedactURL hides the password of a stream URL: rtsp://user:***@host/path.
// Unparseable input is hidden whole, since it might still hold a secret.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	if u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); !has {
		return raw
	}
	bare := *u
	bare.User = nil
	// Built by hand: url.UserPassword would percent-encode the asterisks.
	return u.Scheme + "://" + url.PathEscape(u.User.Username()) + ":***@" +
		strings.TrimPrefix(bare.String(), u.Scheme+"://")
}

// scrub removes a secret from a message (errors from libraries may quote URLs).
func scrub(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, "***")
}
