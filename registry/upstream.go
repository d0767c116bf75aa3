package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Upstream is a superior GB/T 28181 platform the street registers with
// (级联): where it is, the code the street registers as, and what it is
// shown. Password is write-only: never answered.
type Upstream struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	ServerID  string        `json:"server_id"`
	Domain    string        `json:"domain"`
	Address   string        `json:"address"`
	Password  string        `json:"password,omitempty"`
	LocalID   string        `json:"local_id"`
	Transport string        `json:"transport"`
	Share     UpstreamShare `json:"share"`
	Enabled   bool          `json:"enabled"`
	// ExpiresS is the registration asked for (s, default 3600);
	// KeepaliveS the keepalive interval (s, default 60).
	ExpiresS   int   `json:"expires_s"`
	KeepaliveS int   `json:"keepalive_s"`
	Rev        int64 `json:"-"`
}

// UpstreamShare is what a platform is shown: the cameras in these grid
// subtrees, and these cameras.
type UpstreamShare struct {
	Grids   []string `json:"grids"`
	Cameras []string `json:"cameras"`
}

func (s *Store) upstreamKey(id string) string { return s.prefix + "gb/upstream/" + id }

// Upstreams lists the superior platforms, by id.
func (s *Store) Upstreams(ctx context.Context) ([]Upstream, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.prefix+"gb/upstream/", clientv3.WithPrefix())
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]Upstream, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var u Upstream
		if err := json.Unmarshal(kv.Value, &u); err != nil {
			s.log.Warn("upstream platform not read", "key", string(kv.Key), "error", err)
			continue
		}
		u.Rev = kv.ModRevision
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Upstream answers one platform; ErrNotFound if there is none.
func (s *Store) Upstream(ctx context.Context, id string) (Upstream, error) {
	if !ValidID(id) {
		return Upstream{}, fmt.Errorf("upstream %q: %w", id, ErrNotFound)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.upstreamKey(id))
	if err != nil {
		return Upstream{}, unavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return Upstream{}, fmt.Errorf("upstream %s: %w", id, ErrNotFound)
	}
	var u Upstream
	if err := json.Unmarshal(resp.Kvs[0].Value, &u); err != nil {
		return Upstream{}, fmt.Errorf("upstream %s: stored value: %w", id, err)
	}
	u.Rev = resp.Kvs[0].ModRevision
	return u, nil
}

// PutUpstream stores platform u (checked by check, which may fill in
// defaults) if its revision is still rev (0: it must not exist yet);
// ErrExists or ErrConflict otherwise.
func (s *Store) PutUpstream(ctx context.Context, u Upstream, rev int64, check func(*Upstream) error) (Upstream, error) {
	if !ValidID(u.ID) {
		return Upstream{}, &FieldError{Field: "id", Msg: "must be 1-64 letters, digits, '-', '_' or '.'"}
	}
	u.Name = strings.TrimSpace(u.Name)
	if len(u.Name) > 200 {
		return Upstream{}, &FieldError{Field: "name", Msg: "must be at most 200 bytes"}
	}
	if check != nil {
		if err := check(&u); err != nil {
			return Upstream{}, err
		}
	}
	b, err := json.Marshal(u)
	if err != nil {
		return Upstream{}, err
	}
	newRev, ok, err := s.casPut(ctx, s.upstreamKey(u.ID), b, rev)
	if err != nil {
		return Upstream{}, err
	}
	if !ok {
		if rev == 0 {
			return Upstream{}, fmt.Errorf("upstream %s: %w", u.ID, ErrExists)
		}
		return Upstream{}, fmt.Errorf("upstream %s changed meanwhile: %w", u.ID, ErrExists)
	}
	u.Rev = newRev
	return u, nil
}

// DeleteUpstream removes a platform; ErrNotFound if it was not there.
func (s *Store) DeleteUpstream(ctx context.Context, id string) error {
	if !ValidID(id) {
		return fmt.Errorf("upstream %q: %w", id, ErrNotFound)
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Delete(ctx, s.upstreamKey(id))
	if err != nil {
		return unavailable(err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("upstream %s: %w", id, ErrNotFound)
	}
	return nil
}

// GBCode answers the 20-digit GB/T 28181 code camera id is shown upward
// as: allocated once (prefix, 13 digits: domain and type 131, then a
// counter) and kept, so a platform sees the same code for the same camera
// for ever; taken says which codes are in use otherwise (GB channels).
func (s *Store) GBCode(ctx context.Context, id, prefix string, taken func(code string) bool) (string, error) {
	if len(prefix) != 13 || strings.Trim(prefix, "0123456789") != "" {
		return "", &FieldError{Field: "prefix", Msg: "must be 13 digits"}
	}
	byCamera := s.prefix + "gb/codes/by-camera/" + id
	counter := s.prefix + "gb/codes/next/" + prefix
	for attempt := 0; attempt < 20; attempt++ {
		tctx, cancel := s.ctx(ctx)
		resp, err := s.cli.Txn(tctx).Then(clientv3.OpGet(byCamera), clientv3.OpGet(counter)).Commit()
		cancel()
		if err != nil {
			return "", unavailable(err)
		}
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			return string(kvs[0].Value), nil
		}
		next, rev := int64(1), int64(0)
		if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) > 0 {
			next, _ = strconv.ParseInt(string(kvs[0].Value), 10, 64)
			rev = kvs[0].ModRevision
		}
		code := ""
		for ; next <= 9_999_999; next++ {
			if c := fmt.Sprintf("%s%07d", prefix, next); taken == nil || !taken(c) {
				code = c
				break
			}
		}
		if code == "" {
			return "", fmt.Errorf("GB/T 28181 codes under %s: all used: %w", prefix, ErrUnavailable)
		}
		byCode := s.prefix + "gb/codes/by-code/" + code
		tctx, cancel = s.ctx(ctx)
		put, err := s.cli.Txn(tctx).If(clientv3.Compare(clientv3.ModRevision(counter), "=", rev),
			clientv3.Compare(clientv3.CreateRevision(byCamera), "=", 0), clientv3.Compare(clientv3.CreateRevision(byCode), "=", 0)).
			Then(clientv3.OpPut(counter, strconv.FormatInt(next+1, 10)), clientv3.OpPut(byCamera, code), clientv3.OpPut(byCode, id)).Commit()
		cancel()
		if err != nil {
			return "", unavailable(err)
		}
		if put.Succeeded {
			return code, nil
		}
		time.Sleep(time.Duration(attempt) * time.Millisecond)
	}
	return "", fmt.Errorf("GB/T 28181 code of %s: too many concurrent allocations: %w", id, ErrUnavailable)
}

// PutUpstreamStatus publishes how the registration with platform id
// stands (JSON, written by the node that registers), for every node's API.
func (s *Store) PutUpstreamStatus(ctx context.Context, id string, status []byte) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if _, err := s.cli.Put(ctx, s.prefix+"gb/upstream-status/"+id, string(status)); err != nil {
		return unavailable(err)
	}
	return nil
}

// UpstreamStatus answers what PutUpstreamStatus last published for id
// (nil if nothing).
func (s *Store) UpstreamStatus(ctx context.Context, id string) ([]byte, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(ctx, s.prefix+"gb/upstream-status/"+id)
	if err != nil {
		return nil, unavailable(err)
	}
	if len(resp.Kvs) == 0 {
		return nil, nil
	}
	return resp.Kvs[0].Value, nil
}
