package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Layout is a user's saved live wall: the split, the camera of each tile,
// the tile alarms go to, and tours (轮巡) that cycle cameras through a tile
// or the whole wall.
type Layout struct {
	Name      string    `json:"name"`
	Split     int       `json:"layout"` // 1, 4, 9, 16 or 25 tiles
	Tiles     []string  `json:"tiles"`  // camera ids; "" is an empty tile
	AlarmTile *int      `json:"alarm_tile,omitempty"`
	Tours     []Tour    `json:"tours"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Tour cycles cameras through one tile (Tile ≥ 0) or the whole wall (-1).
type Tour struct {
	Name     string   `json:"name"`
	Cameras  []string `json:"cameras"`
	Interval int      `json:"interval_s"`
	Tile     int      `json:"tile"`
}

var layoutName = regexp.MustCompile(`^[\p{Han}A-Za-z0-9 _.-]{1,64}$`)

// Validate checks a layout's shape (the cameras are the API's to check).
func (l *Layout) Validate() error {
	l.Name = strings.TrimSpace(l.Name)
	if !layoutName.MatchString(l.Name) {
		return &FieldError{Field: "name", Msg: "1-64 letters, digits, Chinese characters, spaces, _ . -"}
	}
	switch l.Split {
	case 1, 4, 9, 16, 25:
	default:
		return &FieldError{Field: "layout", Msg: "must be 1, 4, 9, 16 or 25 tiles"}
	}
	if len(l.Tiles) > l.Split {
		return &FieldError{Field: "tiles", Msg: fmt.Sprintf("%d tiles for a layout of %d", len(l.Tiles), l.Split)}
	}
	if l.AlarmTile != nil && (*l.AlarmTile < 0 || *l.AlarmTile >= l.Split) {
		return &FieldError{Field: "alarm_tile", Msg: fmt.Sprintf("must be a tile from 0 to %d", l.Split-1)}
	}
	if len(l.Tours) > 32 {
		return &FieldError{Field: "tours", Msg: "at most 32 tours"}
	}
	for i, t := range l.Tours {
		switch {
		case len(t.Cameras) < 2 || len(t.Cameras) > 256:
			return &FieldError{Field: fmt.Sprintf("tours[%d].cameras", i), Msg: "a tour cycles 2 to 256 cameras"}
		case t.Interval < 5 || t.Interval > 3600:
			return &FieldError{Field: fmt.Sprintf("tours[%d].interval_s", i), Msg: "from 5 to 3600 seconds"}
		case t.Tile < -1 || t.Tile >= l.Split:
			return &FieldError{Field: fmt.Sprintf("tours[%d].tile", i), Msg: fmt.Sprintf("a tile from 0 to %d, or -1 for the whole wall", l.Split-1)}
		case len(t.Name) > 128 || strings.ContainsFunc(t.Name, unicode.IsControl):
			return &FieldError{Field: fmt.Sprintf("tours[%d].name", i), Msg: "at most 128 bytes, no control characters"}
		}
	}
	if l.Tiles == nil {
		l.Tiles = []string{}
	}
	if l.Tours == nil {
		l.Tours = []Tour{}
	}
	return nil
}

func (s *Store) layoutPrefix(user string) string { return s.prefix + "layouts/" + user + "/" }

// PutLayout stores (creates or replaces) a user's layout.
func (s *Store) PutLayout(ctx context.Context, user string, l Layout) (Layout, error) {
	if err := l.Validate(); err != nil {
		return Layout{}, err
	}
	l.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
	b, err := json.Marshal(l)
	if err != nil {
		return Layout{}, err
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if _, err := s.cli.Put(ctx, s.layoutPrefix(user)+l.Name, string(b)); err != nil {
		return Layout{}, unavailable(err)
	}
	return l, nil
}

// Layouts lists a user's layouts by name.
func (s *Store) Layouts(ctx context.Context, user string) ([]Layout, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.layoutPrefix(user), clientv3.WithPrefix())
	if err != nil {
		return nil, unavailable(err)
	}
	out := []Layout{}
	for _, kv := range resp.Kvs {
		var l Layout
		if json.Unmarshal(kv.Value, &l) == nil {
			out = append(out, l)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteLayout removes a user's layout.
func (s *Store) DeleteLayout(ctx context.Context, user, name string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Delete(ctx, s.layoutPrefix(user)+name)
	if err != nil {
		return unavailable(err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("layout %q: %w", name, ErrNotFound)
	}
	return nil
}
