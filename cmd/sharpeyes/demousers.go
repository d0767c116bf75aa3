package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/paulmach/orb"

	"sharpeyes/access"
	"sharpeyes/grid"
	"sharpeyes/registry"
)

// demoUser is one login the demo prints.
type demoUser struct {
	registry.User
	Password string
	What     string
}

// demoUsers makes one user per role on the demo street: a dispatcher for
// the whole street, the grid worker named on one camera cell and the grid
// chief named on another, that cell's police officer as a police
// department user, and a viewer for the leader's screen. Passwords are
// made up for each run.
func demoUsers(cells []grid.Cell, cams []registry.Camera) ([]demoUser, error) {
	ix := grid.NewIndex(cells)
	var street string
	for _, c := range cells {
		if c.Parent == "" {
			street = c.Code
		}
	}
	count := map[string]int{}
	for _, cam := range cams {
		if cam.Location == nil {
			continue
		}
		if base, _ := ix.Locate(orb.Point{cam.Location.Lon, cam.Location.Lat}); base != "" {
			count[base]++
		}
	}
	var withCams []string
	for code := range count {
		if cell, _ := ix.Get(code); cell.Roles.GridWorker != "" && cell.Roles.Chief != "" {
			withCams = append(withCams, code)
		}
	}
	sort.Slice(withCams, func(i, j int) bool {
		return count[withCams[i]] > count[withCams[j]] || count[withCams[i]] == count[withCams[j]] && withCams[i] < withCams[j]
	})
	if street == "" || len(withCams) < 2 {
		return nil, errors.New("demo: the grids need a street and two cells with cameras and roles")
	}
	a, _ := ix.Get(withCams[0])
	b, _ := ix.Get(withCams[1])
	out := []demoUser{
		{User: registry.User{Username: "dispatcher", DisplayName: "指挥中心值班员", Role: string(access.Dispatcher), Grids: []string{street}},
			What: "command centre, whole street"},
		{User: registry.User{Username: a.Roles.GridWorker, DisplayName: a.Name + "网格员", Role: string(access.GridWorker), Grids: []string{}},
			What: "grid worker named on " + a.Name},
		{User: registry.User{Username: b.Roles.Chief, DisplayName: b.Name + "网格长", Role: string(access.GridWorker), Grids: []string{}},
			What: "grid chief named on " + b.Name},
		{User: registry.User{Username: a.Roles.Police, DisplayName: "派出所民警", Role: string(access.Department), Department: "police", Grids: []string{}},
			What: "police department (officer named on " + a.Name + ")"},
		{User: registry.User{Username: "viewer", DisplayName: "领导大屏", Role: string(access.Viewer), Grids: []string{street}},
			What: "live video only, whole street"},
	}
	if cell, _ := ix.Get(street); cell.Roles.Maintainer != "" {
		out = append(out, demoUser{User: registry.User{Username: cell.Roles.Maintainer, DisplayName: "设备运维（维保单位）", Role: string(access.GridWorker), Grids: []string{}},
			What: "camera maintenance, named on the street: its camera faults are dispatched here"})
	}
	for i := range out {
		pw, err := access.NewSecret(9)
		if err != nil {
			return nil, err
		}
		out[i].Password = pw
		if out[i].PasswordHash, err = access.HashPassword(pw); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// createDemoUsers stores the demo users (replacing them on a re-run).
func createDemoUsers(ctx context.Context, store *registry.Store, users []demoUser) error {
	for _, u := range users {
		if _, err := store.CreateUser(ctx, u.User); errors.Is(err, registry.ErrExists) {
			if _, err := store.UpdateUser(ctx, u.Username, func(cur *registry.User) error { *cur = u.User; return nil }); err != nil {
				return err
			}
		} else if err != nil {
			return fmt.Errorf("demo user %s: %w", u.Username, err)
		}
	}
	return nil
}

func printDemoUsers(w io.Writer, users []demoUser) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "logins:\tUSERNAME\tPASSWORD\tROLE\t")
	for _, u := range users {
		fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\n", u.Username, u.Password, u.Role, u.What)
	}
	_ = tw.Flush()
}
