package core

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultRole is the role of unreserved resources and of frameworks that name
// no role.
const DefaultRole = "*"

// ErrBadRole is returned for role names that break the Mesos naming rules.
var ErrBadRole = errors.New("core: bad role name")

// ValidateRole checks a role name by the Mesos rules: "*" is the default
// role; any other role is one or more '/'-separated components, each of which
// is a valid directory name: not empty, not "." or "..", not "*", not
// starting with '-', and without whitespace, backspace or further slashes.
func ValidateRole(role string) error {
	if role == DefaultRole {
		return nil
	}
	if role == "" {
		return fmt.Errorf("%w: empty", ErrBadRole)
	}
	for comp := range strings.SplitSeq(role, "/") {
		if err := validateRoleComponent(comp); err != nil {
			return fmt.Errorf("%w %q: %s", ErrBadRole, role, err)
		}
	}
	return nil
}

func validateRoleComponent(c string) error {
	switch c {
	case "":
		return errors.New("empty component (leading, trailing or double '/')")
	case ".", "..":
		return fmt.Errorf("component %q is not allowed", c)
	case "*":
		return errors.New("'*' is only valid as the whole role")
	}
	if c[0] == '-' {
		return fmt.Errorf("component %q starts with '-'", c)
	}
	for _, r := range c {
		switch r {
		case ' ', '\t', '\n', '\v', '\f', '\r', '\b', 0x85, 0xA0:
			return fmt.Errorf("component %q contains whitespace or backspace", c)
		}
	}
	return nil
}

// IsSubRoleOf reports whether role equals ancestor or is nested below it
// ("eng/ml" is a sub-role of "eng"). Every role is a sub-role of "*" only in
// the sense that unreserved resources are allocatable to it; this function
// does not treat "*" specially.
func IsSubRoleOf(role, ancestor string) bool {
	if len(role) < len(ancestor) || role[:len(ancestor)] != ancestor {
		return false
	}
	return len(role) == len(ancestor) || role[len(ancestor)] == '/'
}

// ParentRole returns the role one level up ("eng" for "eng/ml") and false
// for a top-level role.
func ParentRole(role string) (string, bool) {
	i := strings.LastIndexByte(role, '/')
	if i < 0 {
		return "", false
	}
	return role[:i], true
}
