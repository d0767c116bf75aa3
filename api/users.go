package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"sharpeyes/access"
	"sharpeyes/registry"
)

// userView is a user as answered: never the password hash.
type userView struct {
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	Role        string    `json:"role"`
	Grids       []string  `json:"grids"`
	Department  string    `json:"department,omitempty"`
	Disabled    bool      `json:"disabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func viewUser(u registry.User) userView {
	g := u.Grids
	if g == nil {
		g = []string{}
	}
	return userView{Username: u.Username, DisplayName: u.DisplayName, Role: u.Role, Grids: g, Department: u.Department,
		Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

type userInput struct {
	Username    string    `json:"username"`
	DisplayName *string   `json:"display_name"`
	Password    *string   `json:"password"`
	Role        *string   `json:"role"`
	Grids       *[]string `json:"grids"`
	Department  *string   `json:"department"`
	Disabled    *bool     `json:"disabled"`
	// Read-only fields of a user as answered, accepted and ignored.
	CreatedAt *time.Time `json:"created_at"`
	UpdatedAt *time.Time `json:"updated_at"`
}

// applyUser checks in and applies it to u.
func (s *Server) applyUser(u *registry.User, in userInput) error {
	if in.DisplayName != nil {
		u.DisplayName = strings.TrimSpace(*in.DisplayName)
	}
	if in.Role != nil {
		r, err := access.ParseRole(*in.Role)
		if err != nil {
			return &registry.FieldError{Field: "role", Msg: err.Error()}
		}
		u.Role = string(r)
	}
	if in.Grids != nil {
		ix := s.grids.Index()
		for _, g := range *in.Grids {
			if _, ok := ix.Get(g); !ok {
				return &registry.FieldError{Field: "grids", Msg: fmt.Sprintf("unknown grid %q", g)}
			}
		}
		u.Grids = slices.Clone(*in.Grids)
	}
	if in.Department != nil {
		u.Department = strings.TrimSpace(*in.Department)
	}
	if in.Disabled != nil {
		u.Disabled = *in.Disabled
	}
	if in.Password != nil {
		if err := access.CheckPasswordPolicy(*in.Password); err != nil {
			return &registry.FieldError{Field: "password", Msg: err.Error()}
		}
		h, err := access.HashPassword(*in.Password)
		if err != nil {
			return err
		}
		u.PasswordHash = h
	}
	if u.Role == "" {
		return &registry.FieldError{Field: "role", Msg: "is required"}
	}
	if access.Role(u.Role) == access.Department && u.Department == "" {
		return &registry.FieldError{Field: "department", Msg: "is required for the department role (police, law_enforcement, property, legal…)"}
	}
	if len(u.DisplayName) > 128 || len(u.Department) > 64 {
		return &registry.FieldError{Field: "display_name", Msg: "display_name at most 128 bytes, department 64"}
	}
	return nil
}

func (s *Server) createUser(c *gin.Context) {
	var in userInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	if in.Password == nil {
		writeError(c, &registry.FieldError{Field: "password", Msg: "is required"})
		return
	}
	u := registry.User{Username: strings.TrimSpace(in.Username), Grids: []string{}}
	if err := s.applyUser(&u, in); err != nil {
		writeError(c, err)
		return
	}
	if u.DisplayName == "" {
		u.DisplayName = u.Username
	}
	u, err := s.idStore.CreateUser(c.Request.Context(), u)
	if err != nil {
		writeError(c, err)
		return
	}
	s.ids.SetUser(u)
	s.log.Info("user created", "user", u.Username, "role", u.Role, "by", principal(c).Who())
	c.Header("Location", "/api/v1/users/"+u.Username)
	c.JSON(http.StatusCreated, viewUser(u))
}

func (s *Server) listUsers(c *gin.Context) {
	users := s.ids.Users()
	out := make([]userView, len(users))
	for i, u := range users {
		out[i] = viewUser(u)
	}
	c.JSON(http.StatusOK, gin.H{"items": out, "next_cursor": ""})
}

// getUser answers a user to admins, and to the user themselves.
func (s *Server) getUser(c *gin.Context) {
	p := principal(c)
	name := c.Param("username")
	if !p.Can(access.UsersWrite) && name != p.Username {
		s.hidden(c, "user "+name)
		return
	}
	u, ok := s.ids.User(name)
	if !ok {
		writeError(c, fmt.Errorf("user %q: %w", name, registry.ErrNotFound))
		return
	}
	c.JSON(http.StatusOK, viewUser(u))
}

func (s *Server) patchUser(c *gin.Context) {
	var in userInput
	if err := bindJSON(c, &in); err != nil {
		writeError(c, err)
		return
	}
	name := c.Param("username")
	if in.Username != "" && in.Username != name {
		writeError(c, &registry.FieldError{Field: "username", Msg: "cannot be changed"})
		return
	}
	before, _ := s.ids.User(name)
	u, err := s.idStore.UpdateUser(c.Request.Context(), name, func(u *registry.User) error { return s.applyUser(u, in) })
	if err != nil {
		writeError(c, err)
		return
	}
	s.ids.SetUser(u)
	if u.Epoch != before.Epoch {
		// Already refused everywhere (the epoch moved on); removing them
		// keeps the registry tidy.
		n, err := s.idStore.EndSessions(c.Request.Context(), u.Identity(), u.Epoch)
		if err != nil {
			s.log.Warn("ending the sessions of a changed user", "user", u.Username, "error", err)
		}
		s.log.Info("sessions ended", "user", u.Username, "sessions", n, "why", "password, role, grids, department or disabled changed")
	}
	s.log.Info("user changed", "user", u.Username, "role", u.Role, "disabled", u.Disabled,
		"password_changed", in.Password != nil, "by", principal(c).Who())
	c.JSON(http.StatusOK, viewUser(u))
}

func (s *Server) deleteUser(c *gin.Context) {
	name := c.Param("username")
	if err := s.idStore.DeleteUser(c.Request.Context(), name); err != nil {
		writeError(c, err)
		return
	}
	s.ids.ForgetUser(name)
	s.log.Info("user deleted", "user", name, "by", principal(c).Who())
	c.Status(http.StatusNoContent)
}
