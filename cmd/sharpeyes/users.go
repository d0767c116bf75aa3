package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

const usersUsage = `usage:
  sharpeyes users add [--server URL] [--token TOKEN] --role ROLE [--name NAME] [--grids G1,G2] [--department D] USERNAME
          (the password is read from $SHARPEYES_PASSWORD or the first line of standard input)
  sharpeyes users list [--server URL] [--token TOKEN]
  sharpeyes users disable [--server URL] [--token TOKEN] USERNAME
  sharpeyes users enable [--server URL] [--token TOKEN] USERNAME`

// usersCmd manages the users of a running gateway through its API, as
// the admin (token from --token or $SHARPEYES_AUTH_ADMIN_TOKEN).
func usersCmd(args []string) error {
	if len(args) == 0 {
		return errors.New(usersUsage)
	}
	fs := flag.NewFlagSet("users "+args[0], flag.ContinueOnError)
	server := fs.String("server", "http://127.0.0.1:8080", "gateway URL")
	token := fs.String("token", os.Getenv("SHARPEYES_AUTH_ADMIN_TOKEN"), "admin token (default $SHARPEYES_AUTH_ADMIN_TOKEN)")
	role := fs.String("role", "", "admin, dispatcher, grid_worker, department or viewer")
	name := fs.String("name", "", "display name")
	grids := fs.String("grids", "", "grid codes, comma-separated")
	dept := fs.String("department", "", "department (for the department role)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "add":
		if fs.NArg() != 1 || *role == "" {
			return errors.New(usersUsage)
		}
		pw := os.Getenv("SHARPEYES_PASSWORD")
		if pw == "" {
			line, err := bufio.NewReader(os.Stdin).ReadString('\n')
			if err != nil && line == "" {
				return errors.New("no password: set SHARPEYES_PASSWORD or give it on standard input")
			}
			pw = strings.TrimRight(line, "\r\n")
		}
		body := map[string]any{"username": fs.Arg(0), "password": pw, "role": *role, "display_name": *name,
			"grids": splitList(*grids), "department": *dept}
		code, raw, err := gatewayJSON(http.MethodPost, *server, "/api/v1/users", *token, body)
		if err != nil {
			return err
		}
		if code != http.StatusCreated {
			return answerError(code, raw)
		}
		fmt.Printf("user %s added\n", fs.Arg(0))
	case "list":
		code, raw, err := gatewayJSON(http.MethodGet, *server, "/api/v1/users", *token, nil)
		if err != nil {
			return err
		}
		var page struct {
			Items []struct {
				Username    string    `json:"username"`
				DisplayName string    `json:"display_name"`
				Role        string    `json:"role"`
				Grids       []string  `json:"grids"`
				Department  string    `json:"department"`
				Disabled    bool      `json:"disabled"`
				UpdatedAt   time.Time `json:"updated_at"`
			} `json:"items"`
		}
		if code != http.StatusOK || json.Unmarshal(raw, &page) != nil {
			return answerError(code, raw)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "USERNAME\tNAME\tROLE\tGRIDS\tDEPARTMENT\tSTATE")
		for _, u := range page.Items {
			st := "enabled"
			if u.Disabled {
				st = "disabled"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Username, u.DisplayName, u.Role, strings.Join(u.Grids, ","), u.Department, st)
		}
		return w.Flush()
	case "disable", "enable":
		if fs.NArg() != 1 {
			return errors.New(usersUsage)
		}
		code, raw, err := gatewayJSON(http.MethodPatch, *server, "/api/v1/users/"+fs.Arg(0), *token, map[string]any{"disabled": args[0] == "disable"})
		if err != nil {
			return err
		}
		if code != http.StatusOK {
			return answerError(code, raw)
		}
		fmt.Printf("user %s %sd (on every node within moments)\n", fs.Arg(0), args[0])
	default:
		return errors.New(usersUsage)
	}
	return nil
}

func splitList(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// gatewayJSON sends a JSON request as the admin and returns status and body.
func gatewayJSON(method, server, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, strings.TrimSuffix(server, "/")+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}
