package registry

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// User is a person who signs in. PasswordHash never leaves the gateway:
// the API answers UserView. ID is made once, when the user is created, and
// never changes: tokens and sessions belong to it, so a user deleted and
// created again under the same name does not inherit the old one's
// credentials. Epoch counts changes to what the user may do (password,
// role, grids, department, disabled); a session opened under an older
// epoch has ended.
type User struct {
	ID           string    `json:"id"`
	Epoch        int64     `json:"epoch"`
	Username     string    `json:"username"`
	DisplayName  string    `json:"display_name"`
	Role         string    `json:"role"`
	Grids        []string  `json:"grids"`
	Department   string    `json:"department,omitempty"`
	Disabled     bool      `json:"disabled"`
	PasswordHash string    `json:"password_hash"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Rev          int64     `json:"-"`
}

// Token is an API token as stored: its secret only as a hash.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Owner      string     `json:"owner"`    // the owner's username when issued, or "" for the admin token
	OwnerID    string     `json:"owner_id"` // the owner's User.ID: what the token belongs to
	SecretHash string     `json:"secret_hash"`
	Scopes     []string   `json:"scopes"`
	Grids      []string   `json:"grids,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	// AdminFP is, for a token the admin token issued, a fingerprint of
	// that admin token: the token ends when auth.admin_token changes.
	AdminFP string `json:"admin_fp,omitempty"`
}

// Session is a signed-in browser. Its key is the hash of the cookie value;
// it expires with its etcd lease.
type Session struct {
	IDHash    string    `json:"id_hash"`
	Username  string    `json:"username"`
	UserID    string    `json:"user_id"`
	Epoch     int64     `json:"epoch"` // the user's Epoch at sign-in
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Identity is the user's immutable id. Users stored before ids existed
// get one derived from their name and creation time: stable for that
// user, and different for a user created again under the same name.
func (u User) Identity() string {
	if u.ID != "" {
		return u.ID
	}
	h := sha256.Sum256([]byte(u.Username + "\x00" + u.CreatedAt.UTC().Format(time.RFC3339Nano)))
	return "u-" + hex.EncodeToString(h[:8])
}

// NewUserID makes a random user id.
func NewUserID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "u" + hex.EncodeToString(b)
}

// sameRights tells whether two versions of a user may do the same: a
// change of any of these ends the user's sessions.
func sameRights(a, b User) bool {
	return a.PasswordHash == b.PasswordHash && a.Role == b.Role && slices.Equal(a.Grids, b.Grids) &&
		a.Department == b.Department && a.Disabled == b.Disabled
}

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)

// ValidUsername tells whether name may be a username.
func ValidUsername(name string) bool { return usernamePattern.MatchString(name) }

func (s *Store) userKey(name string) string { return s.prefix + "users/" + name }
func (s *Store) tokenKey(id string) string  { return s.prefix + "tokens/" + id }
func (s *Store) sessionKey(h string) string { return s.prefix + "sessions/" + h }
func (s *Store) clusterKeyKey() string      { return s.prefix + "auth/cluster_key" }
func (s *Store) identityPrefixes() [3]string {
	return [3]string{s.prefix + "users/", s.prefix + "tokens/", s.prefix + "sessions/"}
}

// CreateUser stores a new user; ErrExists if the name is taken.
func (s *Store) CreateUser(ctx context.Context, u User) (User, error) {
	if !ValidUsername(u.Username) {
		return User{}, &FieldError{Field: "username", Msg: "must be 1-64 of A-Z a-z 0-9 _ . @ -"}
	}
	u.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	u.UpdatedAt = u.CreatedAt
	u.ID, u.Epoch = NewUserID(), 1
	b, err := json.Marshal(u)
	if err != nil {
		return User{}, err
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	k := s.userKey(u.Username)
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, string(b))).Commit()
	if err != nil {
		return User{}, unavailable(err)
	}
	if !resp.Succeeded {
		return User{}, fmt.Errorf("user %s: %w", u.Username, ErrExists)
	}
	u.Rev = resp.Header.Revision
	return u, nil
}

// UpdateUser applies change atomically (compare and swap, retried).
func (s *Store) UpdateUser(ctx context.Context, name string, change func(*User) error) (User, error) {
	if !ValidUsername(name) {
		return User{}, fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	k := s.userKey(name)
	for range 5 {
		tctx, cancel := s.ctx(ctx)
		resp, err := s.cli.Get(tctx, k)
		cancel()
		if err != nil {
			return User{}, unavailable(err)
		}
		if len(resp.Kvs) == 0 {
			return User{}, fmt.Errorf("user %s: %w", name, ErrNotFound)
		}
		var u User
		if err := json.Unmarshal(resp.Kvs[0].Value, &u); err != nil {
			return User{}, fmt.Errorf("user %s: stored value: %w", name, err)
		}
		old := u
		old.Grids = slices.Clone(u.Grids)
		if err := change(&u); err != nil {
			return User{}, err
		}
		// Who the user is never changes; a change of what they may do
		// ends the sessions opened before it.
		u.ID, u.Epoch = old.Identity(), old.Epoch
		if !sameRights(old, u) {
			u.Epoch++
		}
		u.Username, u.CreatedAt, u.UpdatedAt = name, old.CreatedAt, s.now().UTC().Truncate(time.Millisecond)
		b, err := json.Marshal(u)
		if err != nil {
			return User{}, err
		}
		newRev, ok, err := s.casPut(ctx, k, b, resp.Kvs[0].ModRevision)
		if err != nil {
			return User{}, err
		}
		if ok {
			u.Rev = newRev
			return u, nil
		}
	}
	return User{}, fmt.Errorf("user %s: too many concurrent updates: %w", name, ErrUnavailable)
}

// DeleteUser removes a user, then their tokens and sessions. Those stop
// working at once whatever happens to the clean-up: they belong to the
// user's id, which no user has any more (a new user of the same name gets
// another).
func (s *Store) DeleteUser(ctx context.Context, name string) error {
	if !ValidUsername(name) {
		return fmt.Errorf("user %q: %w", name, ErrNotFound)
	}
	tctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Delete(tctx, s.userKey(name), clientv3.WithPrevKV())
	if err != nil {
		return unavailable(err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	var gone User
	if len(resp.PrevKvs) == 1 && json.Unmarshal(resp.PrevKvs[0].Value, &gone) == nil {
		if err := s.deleteCredentialsOf(ctx, gone.Identity(), name); err != nil {
			s.log.Warn("tokens and sessions of a deleted user left behind (refused anyway)", "user", name, "error", err)
		}
	}
	return nil
}

// deleteCredentialsOf removes the tokens and sessions of user id (and the
// nameless ones issued to username before ids existed).
func (s *Store) deleteCredentialsOf(ctx context.Context, id, username string) error {
	p := s.identityPrefixes()
	for _, prefix := range []string{p[1], p[2]} {
		tctx, cancel := s.ctx(ctx)
		resp, err := s.cli.Get(tctx, prefix, clientv3.WithPrefix())
		cancel()
		if err != nil {
			return unavailable(err)
		}
		for _, kv := range resp.Kvs {
			var who struct {
				OwnerID  string `json:"owner_id"`
				UserID   string `json:"user_id"`
				Owner    string `json:"owner"`
				Username string `json:"username"`
			}
			if json.Unmarshal(kv.Value, &who) != nil {
				continue
			}
			mine := who.OwnerID == id || who.UserID == id ||
				(who.OwnerID == "" && who.UserID == "" && (who.Owner == username || who.Username == username))
			if !mine {
				continue
			}
			tctx, cancel := s.ctx(ctx)
			_, err := s.cli.Delete(tctx, string(kv.Key))
			cancel()
			if err != nil {
				return unavailable(err)
			}
		}
	}
	return nil
}

// EndSessions removes every session of user id opened before epoch (all
// of them for epoch 0): after a password, role or grid change.
func (s *Store) EndSessions(ctx context.Context, id string, epoch int64) (int, error) {
	tctx, cancel := s.ctx(ctx)
	resp, err := s.cli.Get(tctx, s.identityPrefixes()[2], clientv3.WithPrefix())
	cancel()
	if err != nil {
		return 0, unavailable(err)
	}
	n := 0
	for _, kv := range resp.Kvs {
		var sess Session
		if json.Unmarshal(kv.Value, &sess) != nil || sess.UserID != id || (epoch > 0 && sess.Epoch >= epoch) {
			continue
		}
		tctx, cancel := s.ctx(ctx)
		_, err := s.cli.Delete(tctx, string(kv.Key))
		cancel()
		if err != nil {
			return n, unavailable(err)
		}
		n++
	}
	return n, nil
}

// PutToken stores a new token.
func (s *Store) PutToken(ctx context.Context, t Token) error {
	b, err := json.Marshal(t)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	k := s.tokenKey(t.ID)
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, string(b))).Commit()
	if err != nil {
		return unavailable(err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("token %s: %w", t.ID, ErrExists)
	}
	return nil
}

// DeleteToken revokes a token.
func (s *Store) DeleteToken(ctx context.Context, id string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Delete(ctx, s.tokenKey(id))
	if err != nil {
		return unavailable(err)
	}
	if resp.Deleted == 0 {
		return fmt.Errorf("token %s: %w", id, ErrNotFound)
	}
	return nil
}

// PutSession stores a session under a lease that ends it at ExpiresAt.
func (s *Store) PutSession(ctx context.Context, sess Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	ttl := max(int64(time.Until(sess.ExpiresAt).Seconds())+1, 5)
	lease, err := s.cli.Grant(ctx, ttl)
	if err != nil {
		return unavailable(err)
	}
	if _, err := s.cli.Put(ctx, s.sessionKey(sess.IDHash), string(b), clientv3.WithLease(lease.ID)); err != nil {
		return unavailable(err)
	}
	return nil
}

// DeleteSession ends a session (logout).
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	if _, err := s.cli.Delete(ctx, s.sessionKey(idHash)); err != nil {
		return unavailable(err)
	}
	return nil
}

// ClusterKey returns the key the nodes of a cluster share to sign WHEP
// redirects and to pull each other's RTSP re-serve, made by the first
// node that asks.
func (s *Store) ClusterKey(ctx context.Context, fresh func() (string, error)) (string, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	k := s.clusterKeyKey()
	v, err := fresh()
	if err != nil {
		return "", err
	}
	resp, err := s.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, v)).Else(clientv3.OpGet(k)).Commit()
	if err != nil {
		return "", unavailable(err)
	}
	if resp.Succeeded {
		return v, nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return "", fmt.Errorf("cluster key vanished: %w", ErrUnavailable)
	}
	return string(kvs[0].Value), nil
}

// Identities is the in-memory mirror of users, tokens and sessions, kept
// by a watch so every node sees a disabled user or a logout within
// moments, and authentication never waits on etcd.
type Identities struct {
	mu       sync.RWMutex
	users    map[string]User
	byID     map[string]string // User.Identity() -> username
	tokens   map[string]Token
	sessions map[string]Session
	ready    chan struct{}
	once     sync.Once
}

// NewIdentities returns an empty mirror; Store.WatchIdentities fills it.
func NewIdentities() *Identities {
	return &Identities{users: map[string]User{}, byID: map[string]string{}, tokens: map[string]Token{}, sessions: map[string]Session{}, ready: make(chan struct{})}
}

// Ready is closed after the first full listing.
func (id *Identities) Ready() <-chan struct{} { return id.ready }

// User returns a user by name.
func (id *Identities) User(name string) (User, bool) {
	id.mu.RLock()
	defer id.mu.RUnlock()
	u, ok := id.users[name]
	return u, ok
}

// UserByID returns a user by their immutable id.
func (id *Identities) UserByID(uid string) (User, bool) {
	id.mu.RLock()
	defer id.mu.RUnlock()
	name, ok := id.byID[uid]
	if !ok {
		return User{}, false
	}
	u, ok := id.users[name]
	return u, ok && u.Identity() == uid
}

// Users lists users sorted by name.
func (id *Identities) Users() []User {
	id.mu.RLock()
	out := make([]User, 0, len(id.users))
	for _, u := range id.users {
		out = append(out, u)
	}
	id.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out
}

// Token returns a token by id.
func (id *Identities) Token(tid string) (Token, bool) {
	id.mu.RLock()
	defer id.mu.RUnlock()
	t, ok := id.tokens[tid]
	return t, ok
}

// Tokens lists tokens sorted by creation.
func (id *Identities) Tokens() []Token {
	id.mu.RLock()
	out := make([]Token, 0, len(id.tokens))
	for _, t := range id.tokens {
		out = append(out, t)
	}
	id.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		return out[i].CreatedAt.Before(out[j].CreatedAt) || out[i].CreatedAt.Equal(out[j].CreatedAt) && out[i].ID < out[j].ID
	})
	return out
}

// Session returns a session by the hash of its id.
func (id *Identities) Session(h string) (Session, bool) {
	id.mu.RLock()
	defer id.mu.RUnlock()
	s, ok := id.sessions[h]
	return s, ok
}

// apply sets or (val nil) removes one key's object.
func (id *Identities) apply(kind int, name string, val []byte, rev int64) {
	id.mu.Lock()
	defer id.mu.Unlock()
	switch kind {
	case 0:
		if val == nil {
			id.dropUserLocked(name)
			return
		}
		var u User
		if json.Unmarshal(val, &u) == nil {
			u.Rev = rev
			id.putUserLocked(u)
		}
	case 1:
		if val == nil {
			delete(id.tokens, name)
			return
		}
		var t Token
		if json.Unmarshal(val, &t) == nil {
			id.tokens[name] = t
		}
	case 2:
		if val == nil {
			delete(id.sessions, name)
			return
		}
		var s Session
		if json.Unmarshal(val, &s) == nil {
			id.sessions[name] = s
		}
	}
}

func (id *Identities) reset(kind int) {
	id.mu.Lock()
	defer id.mu.Unlock()
	switch kind {
	case 0:
		id.users, id.byID = map[string]User{}, map[string]string{}
	case 1:
		id.tokens = map[string]Token{}
	case 2:
		id.sessions = map[string]Session{}
	}
}

// WatchIdentities lists users, tokens and sessions, then follows changes
// until ctx ends, re-listing after compaction or a lost watch.
func (s *Store) WatchIdentities(ctx context.Context, id *Identities) {
	prefixes := s.identityPrefixes()
	var wg sync.WaitGroup
	listed := make(chan struct{}, len(prefixes))
	for kind, prefix := range prefixes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			first := true
			for ctx.Err() == nil {
				rev, err := s.listIdentities(ctx, id, kind, prefix)
				if err != nil {
					s.log.Warn("list identities", "prefix", prefix, "error", err)
					sleep(ctx, time.Second)
					continue
				}
				if first {
					listed <- struct{}{}
					first = false
				}
				err = s.watchIdentities(ctx, id, kind, prefix, rev+1)
				if ctx.Err() != nil {
					return
				}
				s.log.Info("identity watch ended; re-listing", "prefix", prefix, "error", err)
				sleep(ctx, 200*time.Millisecond)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range prefixes {
			select {
			case <-listed:
			case <-ctx.Done():
				return
			}
		}
		id.once.Do(func() { close(id.ready) })
	}()
	wg.Wait()
}

func (s *Store) listIdentities(ctx context.Context, id *Identities, kind int, prefix string) (int64, error) {
	tctx, cancel := s.ctx(ctx)
	defer cancel()
	resp, err := s.cli.Get(tctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return 0, unavailable(err)
	}
	id.reset(kind)
	for _, kv := range resp.Kvs {
		id.apply(kind, strings.TrimPrefix(string(kv.Key), prefix), kv.Value, kv.ModRevision)
	}
	return resp.Header.Revision, nil
}

func (s *Store) watchIdentities(ctx context.Context, id *Identities, kind int, prefix string, rev int64) error {
	return s.watchPrefix(ctx, prefix, rev, func(name string, val []byte, modRev int64) { id.apply(kind, name, val, modRev) })
}

// SetUser applies a user this node just wrote, ahead of the watch; an
// older revision never replaces a newer one.
func (id *Identities) SetUser(u User) {
	id.mu.Lock()
	defer id.mu.Unlock()
	if cur, ok := id.users[u.Username]; ok && cur.Rev > u.Rev {
		return
	}
	id.putUserLocked(u)
}

// ForgetUser drops a user this node just deleted.
func (id *Identities) ForgetUser(name string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.dropUserLocked(name)
}

func (id *Identities) putUserLocked(u User) {
	if old, ok := id.users[u.Username]; ok {
		delete(id.byID, old.Identity())
	}
	id.users[u.Username] = u
	id.byID[u.Identity()] = u.Username
}

func (id *Identities) dropUserLocked(name string) {
	if old, ok := id.users[name]; ok {
		delete(id.byID, old.Identity())
	}
	delete(id.users, name)
}

// SetToken applies a token this node just issued.
func (id *Identities) SetToken(t Token) {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.tokens[t.ID] = t
}

// ForgetToken drops a token this node just revoked.
func (id *Identities) ForgetToken(tid string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	delete(id.tokens, tid)
}

// SetSession applies a session this node just opened.
func (id *Identities) SetSession(s Session) {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.sessions[s.IDHash] = s
}

// ForgetSession drops a session this node just ended.
func (id *Identities) ForgetSession(h string) {
	id.mu.Lock()
	defer id.mu.Unlock()
	delete(id.sessions, h)
}
