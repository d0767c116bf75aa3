package ingest

import "testing"

// TestOfflineReasonReadsTheError: a pull's last error names why it is
// offline as a probe would; an address's numbers are not status codes.
func TestOfflineReasonReadsTheError(t *testing.T) {
	for err, want := range map[string]string{
		"describe: bad status code: 401 (Unauthorized)":                  ReasonUnauthorized,
		"describe: bad status code: 403 (Forbidden)":                     ReasonUnauthorized,
		"describe: bad status code: 404 (Not Found)":                     ReasonNotFound,
		"dial tcp 127.0.0.1:40351: connect: connection refused":          ReasonRefused,
		"dial tcp 127.0.0.1:40451: i/o timeout":                          ReasonTimeout,
		"read tcp 127.0.0.1:55012->127.0.0.1:40401: i/o timeout":         ReasonTimeout,
		"the stream has no H.264 or H.265 video":                         ReasonNoMedia,
		"describe: bad status code: 500 (Internal Server Error) at :401": ReasonRefused,
	} {
		if got := (Status{State: StateOffline, LastError: err}).OfflineReason(); got != want {
			t.Errorf("%q: %s, want %s", err, got, want)
		}
	}
	if got := (Status{State: StateOffline, Stalled: true, LastError: "x 401"}).OfflineReason(); got != ReasonFrozen {
		t.Errorf("stalled: %s", got)
	}
}
