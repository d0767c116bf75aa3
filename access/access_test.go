package access

import (
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"sharpeyes/grid"
)

func TestPasswordHashing(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id PHC", h)
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		hash, pw string
		ok       bool
	}{
		{h, "correct horse", true},
		{h, "correct horsE", false},
		{h, "", false},
		{"", "correct horse", false}, // unknown user: the dummy hash never matches
		{"$argon2id$v=19$m=0,t=0,p=0$$", "x", false},
		{"$bcrypt$junk", "x", false},
		{h[:len(h)-4], "correct horse", false},
		{h, strings.Repeat("x", 1<<20), false},
	} {
		if got := VerifyPassword(tc.hash, tc.pw); got != tc.ok {
			t.Errorf("VerifyPassword(%.20q, %.10q) = %v", tc.hash, tc.pw, got)
		}
	}
	// An unknown user costs about what a wrong password does.
	start := time.Now()
	VerifyPassword(h, "wrong")
	known := time.Since(start)
	start = time.Now()
	VerifyPassword("", "wrong")
	unknown := time.Since(start)
	if unknown < known/4 {
		t.Errorf("unknown user took %v, a wrong password %v: timing tells them apart", unknown, known)
	}
	if CheckPasswordPolicy("short") == nil || CheckPasswordPolicy(strings.Repeat("p", 257)) == nil || CheckPasswordPolicy("long enough") != nil {
		t.Error("password policy")
	}
}

func TestTokens(t *testing.T) {
	id, secret, full, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	gid, gsecret, err := ParseToken(full)
	if err != nil || gid != id || gsecret != secret {
		t.Fatalf("ParseToken(%q) = %q %q %v", full, gid, gsecret, err)
	}
	for _, bad := range []string{"", "se_", full[:len(full)-1], full + "x", strings.Replace(full, "se_", "xx_", 1),
		"se_zzzzzzzzzzzzzzzz_" + secret, "se_" + id + "_" + strings.Repeat("!", 43)} {
		if _, _, err := ParseToken(bad); err == nil {
			t.Errorf("ParseToken(%q) accepted", bad)
		}
	}
	if !SameHash(HashSecret(secret), HashSecret(secret)) || SameHash(HashSecret(secret), HashSecret(secret+"x")) {
		t.Error("HashSecret/SameHash")
	}
	key := []byte("k")
	sig := Sign(key, "msg")
	if !Verify(key, "msg", sig) || Verify(key, "msG", sig) || Verify([]byte("other"), "msg", sig) {
		t.Error("Sign/Verify")
	}
}

func TestLimiter(t *testing.T) {
	l := NewLimiter()
	now := time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	for i := 0; i < 5; i++ {
		if ok, _ := l.Allow("alice", "1.1.1.1"); !ok {
			t.Fatalf("attempt %d refused", i+1)
		}
		l.Fail("alice", "1.1.1.1")
	}
	ok, wait := l.Allow("alice", "2.2.2.2")
	if ok || wait != 15*time.Minute {
		t.Fatalf("sixth attempt: %v, wait %v", ok, wait)
	}
	if ok, _ := l.Allow("bob", "1.1.1.1"); !ok {
		t.Fatal("another user from the same address refused after 5 failures")
	}
	for i := 0; i < 15; i++ {
		l.Fail(string(rune('a'+i))+"-user", "1.1.1.1")
	}
	if ok, _ := l.Allow("carol", "1.1.1.1"); ok {
		t.Fatal("21st attempt from one address allowed")
	}
	now = now.Add(15*time.Minute + time.Second)
	if ok, _ := l.Allow("alice", "1.1.1.1"); !ok {
		t.Fatal("still refused after the window")
	}
}

func square(code, parent string, level int, x, y float64, roles grid.Roles) grid.Cell {
	return grid.Cell{Code: code, Parent: parent, Level: level, Kind: grid.Base, Name: code, Roles: roles,
		Geometry: orb.MultiPolygon{{{{x, y}, {x + 1, y}, {x + 1, y + 1}, {x, y + 1}, {x, y}}}}}
}

func TestJurisdiction(t *testing.T) {
	ix := grid.NewIndex([]grid.Cell{
		square("S", "", 2, 0, 0, grid.Roles{}),
		square("C1", "S", 3, 0, 0, grid.Roles{}),
		square("C2", "S", 3, 1, 0, grid.Roles{}),
		square("G11", "C1", 4, 0, 0, grid.Roles{GridWorker: "w1", Chief: "chief1"}),
		square("G21", "C2", 4, 1, 0, grid.Roles{Police: "w1"}),
	})
	j := Compute(ix, "w1", nil)
	if got := j.CellList(); strings.Join(got, ",") != "G11,G21" {
		t.Fatalf("w1 named on G11 and G21: %v", got)
	}
	if !j.HandlesAssignee("w1") || j.HandlesAssignee("w2") {
		t.Error("assignees")
	}
	c1 := Compute(ix, "nobody", []string{"C1"})
	if got := c1.CellList(); strings.Join(got, ",") != "C1,G11" {
		t.Fatalf("subtree of C1: %v", got)
	}
	if got := c1.Intersect(j).CellList(); strings.Join(got, ",") != "G11" {
		t.Fatalf("intersection: %v", got)
	}
	if !Everything().Intersect(c1).HasCell("C1") || Everything().Intersect(c1).HasCell("C2") || !c1.Intersect(Everything()).HasCell("G11") {
		t.Error("intersection with everything")
	}
	if got := c1.Roots(ix); strings.Join(got, ",") != "C1" {
		t.Errorf("roots %v", got)
	}
	if (Jurisdiction{}).HasAny("", "G11") || !j.HasAny("", "G11") {
		t.Error("HasAny")
	}
	if Compute(ix, "x", []string{"unknown"}).HasCell("unknown") {
		t.Error("an unknown grid code added a cell")
	}
}

func TestScopes(t *testing.T) {
	if _, err := ParseScopes([]string{"video", "cameras:read", "video"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseScopes([]string{"root"}); err == nil {
		t.Error("unknown scope accepted")
	}
	if _, err := ParseRole("superuser"); err == nil {
		t.Error("unknown role accepted")
	}
	p := &Principal{Scopes: ScopesOf(Dispatcher)}
	if !p.Can(CasesWrite) || p.Can(UsersWrite) || (*Principal)(nil).Can(Video) {
		t.Error("Can")
	}
}
