package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// camerasCmd runs `sharpeyes cameras import FILE`: CSV (with a header row)
// or a JSON array, sent to a running gateway, all or nothing.
func camerasCmd(args []string) error {
	const usage = "usage: sharpeyes cameras import [--server URL] [--token TOKEN] [--upsert] FILE.csv|FILE.json"
	if len(args) == 0 || args[0] != "import" {
		return errors.New(usage)
	}
	fs := flag.NewFlagSet("cameras import", flag.ContinueOnError)
	server := fs.String("server", "http://127.0.0.1:8080", "gateway URL")
	token := fs.String("token", os.Getenv("SHARPEYES_AUTH_ADMIN_TOKEN"), "admin token (default $SHARPEYES_AUTH_ADMIN_TOKEN)")
	upsert := fs.Bool("upsert", false, "replace cameras that exist instead of refusing them")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New(usage)
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	ctype := "text/csv"
	if strings.EqualFold(filepath.Ext(fs.Arg(0)), ".json") {
		ctype = "application/json"
	}
	path := "/api/v1/cameras/import"
	if *upsert {
		path += "?mode=upsert"
	}
	bar := &progress{total: len(body), w: os.Stderr, label: "uploading"}
	done := make(chan struct{})
	go bar.spin(done) // the server checks every row before writing: show it is busy
	code, raw, err := postToGateway(*server, path, *token, ctype, io.TeeReader(bytes.NewReader(body), bar), int64(len(body)))
	close(done)
	bar.finish()
	if err != nil {
		return err
	}
	var rep struct {
		Error   string `json:"error"`
		Created int    `json:"created"`
		Updated int    `json:"updated"`
		Rows    []struct {
			Row   int    `json:"row"`
			ID    string `json:"id"`
			Field string `json:"field"`
			Error string `json:"error"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return answerError(code, raw)
	}
	if code != http.StatusOK {
		fmt.Fprintln(os.Stderr, rep.Error)
		for _, r := range rep.Rows {
			field := ""
			if r.Field != "" {
				field = " " + r.Field
			}
			fmt.Fprintf(os.Stderr, "  row %d (%s)%s: %s\n", r.Row, r.ID, field, r.Error)
		}
		return fmt.Errorf("import refused (%d %s)", code, http.StatusText(code))
	}
	fmt.Printf("imported: %d created, %d updated\n", rep.Created, rep.Updated)
	return nil
}

// progress draws a bar of bytes sent, then a spinner while the server works.
type progress struct {
	total, sent int
	w           io.Writer
	label       string
	last        time.Time
}

func (p *progress) Write(b []byte) (int, error) {
	p.sent += len(b)
	if time.Since(p.last) > 100*time.Millisecond || p.sent == p.total {
		p.last = time.Now()
		p.draw()
	}
	return len(b), nil
}

func (p *progress) draw() {
	const width = 30
	frac := float64(p.sent) / float64(max(p.total, 1))
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r%s [%s%s] %3.0f%% of %d KB", p.label, strings.Repeat("#", n), strings.Repeat("-", width-n), 100*frac, p.total/1024)
}

func (p *progress) spin(done <-chan struct{}) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	frames := `|/-\`
	for i := 0; ; i++ {
		select {
		case <-done:
			return
		case <-t.C:
			if p.sent == p.total {
				fmt.Fprintf(p.w, "\rchecking every row on the gateway %c                              ", frames[i%4])
			}
		}
	}
}

func (p *progress) finish() { fmt.Fprintf(p.w, "\r%-70s\r", "") }
