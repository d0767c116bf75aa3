// Command sseload holds N server-sent-event streams of a gateway open
// (/api/v1/stream) for a while and counts the events each received: the
// load of bench/bus.sh.
//
//	go run ./bench/sseload -url http://127.0.0.1:18080 -token T -n 500 -for 60s
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:18080", "the gateway")
	token := flag.String("token", "", "an API token with events:read and cases:read")
	n := flag.Int("n", 500, "streams")
	d := flag.Duration("for", 60*time.Second, "how long they stay open")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *d)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *n, MaxConnsPerHost: 0}}
	var open, failed, events atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < *n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "GET", *base+"/api/v1/stream", nil)
			req.Header.Set("Authorization", "Bearer "+*token)
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				failed.Add(1)
				if resp != nil {
					resp.Body.Close()
				}
				return
			}
			defer resp.Body.Close()
			open.Add(1)
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "id: ") {
					events.Add(1)
				}
			}
		}()
		time.Sleep(2 * time.Millisecond) // not all in one instant
	}
	wg.Wait()
	out, _ := json.Marshal(map[string]int64{"streams": open.Load(), "failed": failed.Load(), "events": events.Load()})
	fmt.Println(string(out))
	if failed.Load() > 0 {
		os.Exit(1)
	}
}
