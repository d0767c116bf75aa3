// Package access says what a principal may see and do: roles and scopes,
// grid jurisdiction, password hashing, the API token format and login
// throttling. Pure: identities are stored by the registry, and who a
// request is is resolved by authn.
package access

import "errors"

var (
	// ErrBadCredentials means a login or token did not check out. Callers
	// answer the same whether the user exists or not.
	ErrBadCredentials = errors.New("wrong username or password")
	// ErrMalformedToken means a bearer token is not one this gateway issues.
	ErrMalformedToken = errors.New("malformed token")
	// ErrUnknownRole names a role that does not exist.
	ErrUnknownRole = errors.New("unknown role")
	// ErrUnknownScope names a scope that does not exist.
	ErrUnknownScope = errors.New("unknown scope")
	// ErrPasswordPolicy means a new password is too short or too long.
	ErrPasswordPolicy = errors.New("password must be 8 to 256 bytes")
)
