package ingest

import (
	"net/url"
	"strings"
)

// Cameras carry credentials in more places than user:pass@ — XMEye-style
// paths (/user=admin&password=x&channel=1) and query parameters
// (?password=x, ?token=x). A parameter whose name is one of these is a
// secret wherever it appears.
var secretKeys = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "pass": true, "psw": true, "passphrase": true,
	"secret": true, "token": true, "access_token": true, "api_key": true, "apikey": true, "auth": true, "key": true,
}

const hidden = "***"

// mapPairs calls f on every key=value pair of s (pairs separated by &, ;
// or /) and puts back what f answers for the value.
func mapPairs(s string, f func(key, val string) string) string {
	var b strings.Builder
	start := 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && s[i] != '&' && s[i] != ';' && s[i] != '/' {
			continue
		}
		part := s[start:i]
		if k, v, ok := strings.Cut(part, "="); ok {
			part = k + "=" + f(k, v)
		}
		b.WriteString(part)
		if i < len(s) {
			b.WriteByte(s[i])
		}
		start = i + 1
	}
	return b.String()
}

func isSecretKey(k string) bool {
	if u, err := url.QueryUnescape(k); err == nil {
		k = u
	}
	return secretKeys[strings.ToLower(k)]
}

// RedactURL hides every secret of a stream URL: the password of
// rtsp://user:***@host/path, and secret parameters in the path and query.
// Unparseable input is hidden whole, since it might still hold a secret.
func RedactURL(raw string) string {
	if raw == "" {
		return "" // nothing to hide (a GB/T 28181 channel has no URL)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	hide := func(k, v string) string {
		if isSecretKey(k) && v != "" {
			return hidden
		}
		return v
	}
	path := mapPairs(u.EscapedPath(), hide)
	query := mapPairs(u.RawQuery, hide)
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString(url.PathEscape(u.User.Username()))
		if _, has := u.User.Password(); has {
			b.WriteString(":" + hidden) // by hand: url.UserPassword would escape the asterisks
		}
		b.WriteByte('@')
	}
	b.WriteString(u.Host + path)
	if u.ForceQuery || query != "" {
		b.WriteString("?" + query)
	}
	if u.Fragment != "" {
		b.WriteString("#" + u.EscapedFragment())
	}
	return b.String()
}

// Secrets lists every secret value in a stream URL (for scrubbing messages).
func Secrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p, url.PathEscape(p), url.QueryEscape(p))
		}
	}
	collect := func(k, v string) string {
		if isSecretKey(k) && v != "" {
			out = append(out, v)
			if uv, err := url.QueryUnescape(v); err == nil && uv != v {
				out = append(out, uv)
			}
		}
		return v
	}
	mapPairs(u.EscapedPath(), collect)
	mapPairs(u.RawQuery, collect)
	return out
}

// KeepSecrets lets a client send back a URL as the API showed it: where
// incoming has *** in place of a secret that stored holds, on the same
// host (and for user:pass@, the same user), the stored secret is kept.
func KeepSecrets(incoming, stored string) string {
	if !strings.Contains(incoming, hidden) {
		return incoming
	}
	in, err1 := url.Parse(incoming)
	old, err2 := url.Parse(stored)
	if err1 != nil || err2 != nil || in.Host != old.Host || in.Scheme != old.Scheme {
		return incoming
	}
	if in.User != nil && old.User != nil {
		if p, ok := in.User.Password(); ok && p == hidden && in.User.Username() == old.User.Username() {
			if op, ok := old.User.Password(); ok {
				in.User = url.UserPassword(old.User.Username(), op)
			}
		}
	}
	restore := func(oldPart string) func(k, v string) string {
		stored := map[string][]string{}
		mapPairs(oldPart, func(k, v string) string {
			if isSecretKey(k) {
				stored[strings.ToLower(k)] = append(stored[strings.ToLower(k)], v)
			}
			return v
		})
		return func(k, v string) string {
			lk := strings.ToLower(k)
			if v == hidden && isSecretKey(k) && len(stored[lk]) > 0 {
				v = stored[lk][0]
				stored[lk] = stored[lk][1:]
			}
			return v
		}
	}
	path := mapPairs(in.EscapedPath(), restore(old.EscapedPath()))
	if p, err := url.PathUnescape(path); err == nil {
		in.Path, in.RawPath = p, path
	}
	in.RawQuery = mapPairs(in.RawQuery, restore(old.RawQuery))
	return in.String()
}

// scrub removes secrets from a message (errors from libraries may quote URLs).
func scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, hidden)
		}
	}
	return msg
}
