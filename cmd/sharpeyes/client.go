package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// postToGateway sends an admin request to a running gateway and returns
// its status and body.
func postToGateway(server, path, token, ctype string, body io.Reader, length int64) (int, []byte, error) {
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(server, "/")+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// answerError is the error for a gateway answer that is not the JSON expected.
func answerError(code int, raw []byte) error {
	return fmt.Errorf("gateway answered %d %s: %s", code, http.StatusText(code), bytes.TrimSpace(raw))
}
