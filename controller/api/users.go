package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/wgfleet/wgfleet/controller/auth"
	"github.com/wgfleet/wgfleet/controller/store"
)

// userView is a user as the API shows it: never the password hash or the
// TOTP secret.
type userView struct {
	ID          int64     `json:"id"`
	Username    string    `json:"username"`
	Role        auth.Role `json:"role"`
	TOTPEnabled bool      `json:"totp_enabled"`
	CreatedAt   time.Time `json:"created_at"`
}

func viewUser(u store.User) userView {
	return userView{ID: u.ID, Username: u.Username, Role: auth.Role(u.Role), TOTPEnabled: u.TOTPEnabled, CreatedAt: u.CreatedAt}
}

// listUsers: GET /api/users.
func (s *server) listUsers(r *http.Request) (result, error) {
	users, err := s.auth.ListUsers(r.Context())
	if err != nil {
		return result{}, err
	}
	out := make([]userView, 0, len(users))
	for _, u := range users {
		out = append(out, viewUser(u))
	}
	return success("", out), nil
}

type createUserRequest struct {
	Username *string `json:"username"`
	Password *string `json:"password"`
	Role     *string `json:"role"`
}

// parseRoleField reads the role of a request body.
func parseRoleField(v string) (auth.Role, error) {
	role, err := auth.ParseRole(v)
	if err != nil {
		return "", badFieldf("role", "role must be admin, operator or viewer")
	}
	return role, nil
}

// createUser: POST /api/users {"username", "password", "role"}.
func (s *server) createUser(r *http.Request) (result, error) {
	req, err := decodeBody(r, decodeJSON[createUserRequest])
	if err != nil {
		return result{}, err
	}
	switch {
	case req.Username == nil || *req.Username == "":
		return result{}, badFieldf("username", "username is required")
	case req.Password == nil || *req.Password == "":
		return result{}, badFieldf("password", "password is required")
	case req.Role == nil:
		return result{}, badFieldf("role", "role is required (admin, operator or viewer)")
	}
	role, err := parseRoleField(*req.Role)
	if err != nil {
		return result{}, err
	}
	if err := checkPasswordField("password", *req.Password); err != nil {
		return result{}, err
	}
	u, err := s.auth.CreateUser(r.Context(), principal(r).Actor(), *req.Username, *req.Password, role)
	if err != nil {
		return result{}, err
	}
	return created("user created", viewUser(u)), nil
}

type updateUserRequest struct {
	// Role, when set, is the user's new role.
	Role *string `json:"role"`
	// Password, when set, is the user's new password: all their sessions
	// end.
	Password *string `json:"password"`
}

// updateUser: PATCH /api/users/{id} {"role"?, "password"?}.
func (s *server) updateUser(r *http.Request) (result, error) {
	id, err := pathID(r, "user")
	if err != nil {
		return result{}, err
	}
	req, err := decodeBody(r, decodeJSON[updateUserRequest])
	if err != nil {
		return result{}, err
	}
	if req.Role == nil && req.Password == nil {
		return result{}, badRequestf("give role, password or both")
	}
	var role auth.Role
	if req.Role != nil {
		if role, err = parseRoleField(*req.Role); err != nil {
			return result{}, err
		}
	}
	if req.Password != nil {
		if err := checkPasswordField("password", *req.Password); err != nil {
			return result{}, err
		}
	}
	if _, err := s.auth.GetUser(r.Context(), id); err != nil {
		return result{}, err
	}
	if req.Password != nil {
		if err := s.auth.SetPassword(r.Context(), principal(r).Actor(), id, *req.Password); err != nil {
			return result{}, err
		}
	}
	if req.Role != nil {
		if _, err := s.auth.SetRole(r.Context(), principal(r).Actor(), id, role); err != nil {
			return result{}, err
		}
	}
	u, err := s.auth.GetUser(r.Context(), id)
	if err != nil {
		return result{}, err
	}
	return success("user updated", viewUser(u)), nil
}

// deleteUser: DELETE /api/users/{id}.
func (s *server) deleteUser(r *http.Request) (result, error) {
	id, err := pathID(r, "user")
	if err != nil {
		return result{}, err
	}
	if err := s.auth.DeleteUser(r.Context(), principal(r).Actor(), id); err != nil {
		return result{}, err
	}
	return success("user deleted", nil), nil
}

type changePasswordRequest struct {
	CurrentPassword *string `json:"current_password"`
	NewPassword     *string `json:"new_password"`
}

// changeOwnPassword: POST /api/me/password {"current_password",
// "new_password"}: the signed-in user's own password; their other
// sessions end, this one goes on.
func (s *server) changeOwnPassword(r *http.Request) (result, error) {
	req, err := decodeBody(r, decodeJSON[changePasswordRequest])
	if err != nil {
		return result{}, err
	}
	switch {
	case req.CurrentPassword == nil || *req.CurrentPassword == "":
		return result{}, badFieldf("current_password", "current_password is required")
	case req.NewPassword == nil || *req.NewPassword == "":
		return result{}, badFieldf("new_password", "new_password is required")
	}
	if err := checkPasswordField("new_password", *req.NewPassword); err != nil {
		return result{}, err
	}
	err = s.auth.ChangeOwnPassword(r.Context(), principal(r), *req.CurrentPassword, *req.NewPassword, r.RemoteAddr)
	if errors.Is(err, auth.ErrWrongPassword) {
		return result{}, badFieldf("current_password", "%s", auth.ErrWrongPassword.Error())
	}
	if err != nil {
		return result{}, err
	}
	return success("password changed; your other sessions have ended", nil), nil
}

// checkPasswordField refuses a password auth would refuse, naming the
// field.
func checkPasswordField(field, password string) error {
	if err := auth.CheckPasswordStrength(password); err != nil {
		return badFieldf(field, "%s", strings.TrimPrefix(err.Error(), auth.ErrInvalid.Error()+": "))
	}
	return nil
}
