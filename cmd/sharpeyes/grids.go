package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
)

// gridsCmd runs `sharpeyes grids import FILE`: it sends a GeoJSON
// FeatureCollection to a running gateway and prints its report.
func gridsCmd(args []string) error {
	if len(args) == 0 || args[0] != "import" {
		return errors.New("usage: sharpeyes grids import [--server URL] [--token TOKEN] FILE")
	}
	fs := flag.NewFlagSet("grids import", flag.ContinueOnError)
	server := fs.String("server", "http://127.0.0.1:8080", "gateway URL")
	token := fs.String("token", os.Getenv("SHARPEYES_AUTH_ADMIN_TOKEN"), "admin token (default $SHARPEYES_AUTH_ADMIN_TOKEN)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: sharpeyes grids import [--server URL] [--token TOKEN] FILE")
	}
	body, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	code, raw, err := postToGateway(*server, "/api/v1/grids/import", *token, "application/geo+json", bytes.NewReader(body), int64(len(body)))
	if err != nil {
		return err
	}
	var rep struct {
		Error    string `json:"error"`
		Version  string `json:"version"`
		Cells    int    `json:"cells"`
		Relinked int    `json:"cameras_relinked"`
		Problems []struct {
			Feature int     `json:"feature"`
			Code    string  `json:"code"`
			Msg     string  `json:"message"`
			AreaM2  float64 `json:"area_m2"`
		} `json:"problems"`
	}
	if err := json.Unmarshal(raw, &rep); err != nil {
		return answerError(code, raw)
	}
	if code != http.StatusOK {
		fmt.Fprintln(os.Stderr, rep.Error)
		for i, p := range rep.Problems {
			where := fmt.Sprintf("feature %d", p.Feature)
			if p.Code != "" {
				where += " (" + p.Code + ")"
			}
			fmt.Fprintf(os.Stderr, "%3d. %s: %s\n", i+1, where, p.Msg)
		}
		return fmt.Errorf("import refused (%d %s)", code, http.StatusText(code))
	}
	fmt.Printf("imported %d cells as version %s; %d camera(s) re-linked\n", rep.Cells, rep.Version, rep.Relinked)
	return nil
}
