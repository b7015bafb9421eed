package core

import (
	"errors"
	"fmt"
	"slices"
)

// Well-known resource names.
const (
	CPUs  = "cpus"
	Mem   = "mem"
	Disk  = "disk"
	GPUs  = "gpus"
	Ports = "ports"
)

// ReservationType says how a reservation was made. The numbers follow
// Mesos's Resource.ReservationInfo.Type enum.
type ReservationType uint8

// Reservation types.
const (
	Static  ReservationType = 1
	Dynamic ReservationType = 2
)

func (t ReservationType) String() string {
	switch t {
	case Static:
		return "STATIC"
	case Dynamic:
		return "DYNAMIC"
	}
	return fmt.Sprintf("ReservationType(%d)", t)
}

// Label is one key/value pair of a reservation's labels.
type Label struct {
	Key, Value string
}

// Reservation is one level of a resource's reservation stack.
type Reservation struct {
	Type      ReservationType
	Role      string
	Principal string // dynamic reservations only
	Labels    []Label
}

func (r *Reservation) equal(o *Reservation) bool {
	return r.Type == o.Type && r.Role == o.Role && r.Principal == o.Principal &&
		slices.Equal(r.Labels, o.Labels)
}

// Persistence identifies a persistent volume.
type Persistence struct {
	ID        string
	Principal string
}

// VolumeMode is a volume's access mode, numbered as in Mesos's Volume.Mode.
type VolumeMode uint8

// Volume modes.
const (
	RW VolumeMode = 1
	RO VolumeMode = 2
)

func (m VolumeMode) String() string {
	switch m {
	case RW:
		return "RW"
	case RO:
		return "RO"
	}
	return fmt.Sprintf("VolumeMode(%d)", m)
}

// Volume says where a persistent volume is mounted in the container.
type Volume struct {
	ContainerPath string
	Mode          VolumeMode
}

// DiskInfo carries the persistent-volume part of a disk resource.
type DiskInfo struct {
	Persistence *Persistence
	Volume      *Volume
}

func (d *DiskInfo) equal(o *DiskInfo) bool {
	if d == nil || o == nil {
		return d == o
	}
	if (d.Persistence == nil) != (o.Persistence == nil) || (d.Volume == nil) != (o.Volume == nil) {
		return false
	}
	if d.Persistence != nil && *d.Persistence != *o.Persistence {
		return false
	}
	return d.Volume == nil || *d.Volume == *o.Volume
}

// Resource is one entry of the Mesos resource model.
type Resource struct {
	Name   string
	Type   ValueType
	Scalar Value  // Type == Scalar
	Ranges Ranges // Type == RangesType
	Set    Set    // Type == SetType

	// Reservations is the reservation stack, bottom (the coarsest role)
	// first. Empty means unreserved. Each later entry refines the one below
	// it to a sub-role.
	Reservations []Reservation
	Disk         *DiskInfo
	Revocable    bool
	// Shared resources (shared persistent volumes) are indivisible: a
	// Resources holds one entry per copy, and arithmetic counts copies.
	Shared bool
}

// Role is the role the resource is reserved for, or "*" when unreserved.
func (r *Resource) Role() string {
	if n := len(r.Reservations); n > 0 {
		return r.Reservations[n-1].Role
	}
	return DefaultRole
}

// IsReserved reports whether the resource carries any reservation.
func (r *Resource) IsReserved() bool { return len(r.Reservations) > 0 }

// IsPersistentVolume reports whether the resource is a persistent volume.
func (r *Resource) IsPersistentVolume() bool {
	return r.Disk != nil && r.Disk.Persistence != nil
}

// AllocatableTo reports whether the resource may be offered to role: it is
// unreserved, or reserved for role or one of role's ancestors.
func (r *Resource) AllocatableTo(role string) bool {
	if !r.IsReserved() {
		return true
	}
	return IsSubRoleOf(role, r.Role())
}

// alike reports whether r and o differ at most in their value, so that their
// values can be combined.
func (r *Resource) alike(o *Resource) bool {
	if r.Name != o.Name || r.Type != o.Type || r.Revocable != o.Revocable || r.Shared != o.Shared ||
		len(r.Reservations) != len(o.Reservations) || !r.Disk.equal(o.Disk) {
		return false
	}
	for i := range r.Reservations {
		if !r.Reservations[i].equal(&o.Reservations[i]) {
			return false
		}
	}
	return true
}

// isEmpty reports whether the value is zero.
func (r *Resource) isEmpty() bool {
	switch r.Type {
	case Scalar:
		return r.Scalar == 0
	case RangesType:
		return len(r.Ranges) == 0
	case SetType:
		return len(r.Set) == 0
	}
	return true
}

func (r *Resource) valueEqual(o *Resource) bool {
	return r.Scalar == o.Scalar && slices.Equal(r.Ranges, o.Ranges) && slices.Equal(r.Set, o.Set)
}

// containsValue reports whether r's value includes o's. r and o are alike.
func (r *Resource) containsValue(o *Resource) bool {
	switch r.Type {
	case Scalar:
		return r.Scalar >= o.Scalar
	case RangesType:
		return r.Ranges.Contains(o.Ranges)
	case SetType:
		return r.Set.Contains(o.Set)
	}
	return false
}

// addValue adds o's value to r's. r must own its slices.
func (r *Resource) addValue(o *Resource) {
	switch r.Type {
	case Scalar:
		r.Scalar += o.Scalar
	case RangesType:
		r.Ranges = r.Ranges.Union(o.Ranges)
	case SetType:
		r.Set = r.Set.Union(o.Set)
	}
}

// subValue removes o's value from r's, stopping at empty.
func (r *Resource) subValue(o *Resource) {
	switch r.Type {
	case Scalar:
		r.Scalar = max(r.Scalar-o.Scalar, 0)
	case RangesType:
		r.Ranges = r.Ranges.Difference(o.Ranges)
	case SetType:
		r.Set = r.Set.Difference(o.Set)
	}
}

// ErrBadResource is wrapped by every validation error about a resource.
var ErrBadResource = errors.New("core: bad resource")

// Validate checks one resource: a name, a value of its type, valid roles in
// a well-formed reservation stack, and disk and shared markers only where
// Mesos allows them.
func (r *Resource) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w %q: %s", ErrBadResource, r.Name, fmt.Sprintf(format, args...))
	}
	if r.Name == "" {
		return fmt.Errorf("%w: empty name", ErrBadResource)
	}
	switch r.Type {
	case Scalar:
		if r.Scalar < 0 || r.Scalar > MaxValue {
			return bad("scalar %s out of range", r.Scalar)
		}
		if r.Name == GPUs && r.Scalar%ValueScale != 0 {
			return bad("gpus must be a whole number, not %s", r.Scalar)
		}
	case RangesType:
		for i, rg := range r.Ranges {
			if rg.Begin > rg.End {
				return bad("inverted range [%d-%d]", rg.Begin, rg.End)
			}
			if i > 0 && r.Ranges[i-1].End >= rg.Begin {
				return bad("overlapping or unsorted ranges")
			}
		}
	case SetType:
		for i := 1; i < len(r.Set); i++ {
			if r.Set[i-1] >= r.Set[i] {
				return bad("duplicate or unsorted set items")
			}
		}
	default:
		return bad("type %s is not a resource type", r.Type)
	}
	for i, res := range r.Reservations {
		if err := ValidateRole(res.Role); err != nil {
			return bad("%v", err)
		}
		if res.Role == DefaultRole {
			return bad("cannot reserve for role '*'")
		}
		switch res.Type {
		case Static:
			if i > 0 {
				return bad("a static reservation can only be the bottom of the stack")
			}
			if res.Principal != "" || len(res.Labels) > 0 {
				return bad("a static reservation has no principal or labels")
			}
		case Dynamic:
		default:
			return bad("unknown reservation type %d", res.Type)
		}
		if i > 0 {
			prev := r.Reservations[i-1].Role
			if res.Role == prev || !IsSubRoleOf(res.Role, prev) {
				return bad("reservation for %q does not refine %q", res.Role, prev)
			}
		}
	}
	if r.Disk != nil {
		if r.Name != Disk {
			return bad("disk info on a non-disk resource")
		}
		if p := r.Disk.Persistence; p != nil {
			if p.ID == "" {
				return bad("persistent volume without an id")
			}
			if !r.IsReserved() {
				return bad("persistent volume %q on unreserved disk", p.ID)
			}
			if r.Disk.Volume == nil {
				return bad("persistent volume %q without a volume", p.ID)
			}
		}
		if v := r.Disk.Volume; v != nil && (v.ContainerPath == "" || (v.Mode != RW && v.Mode != RO)) {
			return bad("volume needs a container path and mode RW or RO")
		}
	}
	if r.Shared && !r.IsPersistentVolume() {
		return bad("only persistent volumes can be shared")
	}
	if r.Revocable && r.IsPersistentVolume() {
		return bad("a persistent volume cannot be revocable")
	}
	return nil
}

// clone returns a copy of r that shares no slices with it. Reservations and
// Disk are immutable once built and are shared.
func (r Resource) clone() Resource {
	r.Ranges = slices.Clone(r.Ranges)
	r.Set = slices.Clone(r.Set)
	return r
}

// Resources is a normalized collection of resources: no empty entries, and
// at most one entry per alike-class except for shared resources (one entry
// per copy). The zero value is empty. Methods never modify their receiver
// or arguments; results never share value slices with inputs.
type Resources []Resource

// NewResources normalizes and validates a list of resources. Duplicate names
// with different types are an error, as in Mesos.
func NewResources(list ...Resource) (Resources, error) {
	types := make(map[string]ValueType, len(list))
	var out Resources
	for i := range list {
		r := &list[i]
		if err := r.Validate(); err != nil {
			return nil, err
		}
		if t, ok := types[r.Name]; ok && t != r.Type {
			return nil, fmt.Errorf("%w %q: used as both %s and %s", ErrBadResource, r.Name, t, r.Type)
		}
		types[r.Name] = r.Type
		out = out.addOne(r)
	}
	return out, nil
}

// Validate checks every entry and the normal form.
func (rs Resources) Validate() error {
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			return err
		}
		if rs[i].isEmpty() {
			return fmt.Errorf("%w %q: empty entry", ErrBadResource, rs[i].Name)
		}
		for j := range i {
			if rs[j].Name == rs[i].Name && rs[j].Type != rs[i].Type {
				return fmt.Errorf("%w %q: used as both %s and %s", ErrBadResource, rs[i].Name, rs[j].Type, rs[i].Type)
			}
			if !rs[i].Shared && rs[j].alike(&rs[i]) {
				return fmt.Errorf("%w %q: not normalized", ErrBadResource, rs[i].Name)
			}
		}
	}
	return nil
}

// addOne adds r into rs in place (rs must own its entries) and returns it.
func (rs Resources) addOne(r *Resource) Resources {
	if r.isEmpty() {
		return rs
	}
	if !r.Shared {
		for i := range rs {
			if rs[i].alike(r) {
				rs[i].addValue(r)
				return rs
			}
		}
	}
	return append(rs, r.clone())
}

// subOne removes r from rs in place and returns it.
func (rs Resources) subOne(r *Resource) Resources {
	for i := range rs {
		if !rs[i].alike(r) {
			continue
		}
		if r.Shared {
			if !rs[i].valueEqual(r) {
				continue
			}
		} else {
			rs[i].subValue(r)
			if !rs[i].isEmpty() {
				return rs
			}
		}
		return slices.Delete(rs, i, i+1)
	}
	return rs
}

// Clone returns a deep copy of rs.
func (rs Resources) Clone() Resources {
	if rs == nil {
		return nil
	}
	out := make(Resources, len(rs))
	for i := range rs {
		out[i] = rs[i].clone()
	}
	return out
}

// Add returns rs + o.
func (rs Resources) Add(o Resources) Resources {
	out := make(Resources, 0, len(rs)+len(o))
	for i := range rs {
		out = append(out, rs[i].clone())
	}
	for i := range o {
		out = out.addOne(&o[i])
	}
	return out
}

// Sub returns rs - o. What o holds beyond rs is ignored (a scalar stops at
// zero); callers that need exactness check Contains first.
func (rs Resources) Sub(o Resources) Resources {
	out := rs.Clone()
	for i := range o {
		out = out.subOne(&o[i])
	}
	return out
}

// Contains reports whether o ⊆ rs, per alike-class (and per copy for shared
// resources).
func (rs Resources) Contains(o Resources) bool {
	if len(o) <= len(rs) && (len(o) == 0 || &o[0] == &rs[0]) {
		// o is empty or a prefix of rs itself (the allocator hands the
		// same lists around): each of its entries matches itself.
		return true
	}
	var used []bool // shared copies of rs already matched
	for i := range o {
		r := &o[i]
		found := false
		for j := range rs {
			if !rs[j].alike(r) {
				continue
			}
			if r.Shared {
				if used == nil {
					used = make([]bool, len(rs))
				}
				if used[j] || !rs[j].valueEqual(r) {
					continue
				}
				used[j] = true
			} else if !rs[j].containsValue(r) {
				return false
			}
			found = true
			break
		}
		if !found && !r.isEmpty() {
			return false
		}
	}
	return true
}

// Equal reports whether rs and o hold the same resources.
func (rs Resources) Equal(o Resources) bool {
	return len(rs) == len(o) && rs.Contains(o) && o.Contains(rs)
}

// IsEmpty reports whether rs holds nothing.
func (rs Resources) IsEmpty() bool { return len(rs) == 0 }

// Filter returns the entries for which keep returns true.
func (rs Resources) Filter(keep func(*Resource) bool) Resources {
	var out Resources
	for i := range rs {
		if keep(&rs[i]) {
			out = append(out, rs[i].clone())
		}
	}
	return out
}

// Unreserved returns the unreserved entries.
func (rs Resources) Unreserved() Resources {
	return rs.Filter(func(r *Resource) bool { return !r.IsReserved() })
}

// ReservedFor returns the entries whose reservation role is exactly role.
func (rs Resources) ReservedFor(role string) Resources {
	return rs.Filter(func(r *Resource) bool { return r.IsReserved() && r.Role() == role })
}

// Reserved returns every reserved entry.
func (rs Resources) Reserved() Resources {
	return rs.Filter(func(r *Resource) bool { return r.IsReserved() })
}

// AllocatableTo returns the entries that may be offered to role.
func (rs Resources) AllocatableTo(role string) Resources {
	return rs.Filter(func(r *Resource) bool { return r.AllocatableTo(role) })
}

// Shared returns the shared entries, one per copy.
func (rs Resources) Shared() Resources {
	return rs.Filter(func(r *Resource) bool { return r.Shared })
}

// NonShared returns the entries that are not shared.
func (rs Resources) NonShared() Resources {
	return rs.Filter(func(r *Resource) bool { return !r.Shared })
}

// HasShared reports whether rs holds a shared entry.
func (rs Resources) HasShared() bool {
	for i := range rs {
		if rs[i].Shared {
			return true
		}
	}
	return false
}

// Revocable returns the revocable entries.
func (rs Resources) Revocable() Resources {
	return rs.Filter(func(r *Resource) bool { return r.Revocable })
}

// NonRevocable returns the entries that are not revocable.
func (rs Resources) NonRevocable() Resources {
	return rs.Filter(func(r *Resource) bool { return !r.Revocable })
}

// ScalarValue returns the sum of the scalar entries named name, across
// reservations and markers.
func (rs Resources) ScalarValue(name string) Value {
	var v Value
	for i := range rs {
		if rs[i].Name == name && rs[i].Type == Scalar {
			v += rs[i].Scalar
		}
	}
	return v
}

// Has reports whether rs holds an entry named name.
func (rs Resources) Has(name string) bool {
	for i := range rs {
		if rs[i].Name == name {
			return true
		}
	}
	return false
}

// Quantities returns the scalar quantities of rs by name, summed across
// reservations and markers. Ranges and sets are not counted (as in Mesos's
// DRF, which shares scalars only).
func (rs Resources) Quantities() Quantities {
	var q Quantities
	for i := range rs {
		if rs[i].Type == Scalar {
			q = q.addOne(rs[i].Name, rs[i].Scalar)
		}
	}
	return q
}

// Reserve returns a copy of rs with every entry's reservation stack extended
// by res: unreserved entries become reserved, reserved ones are refined.
func (rs Resources) Reserve(res Reservation) Resources {
	out := make(Resources, 0, len(rs))
	for i := range rs {
		r := rs[i].clone()
		r.Reservations = append(slices.Clip(r.Reservations), res)
		out = out.addOne(&r)
	}
	return out
}

// Unreserve returns a copy of rs with the top reservation popped from every
// entry.
func (rs Resources) Unreserve() Resources {
	out := make(Resources, 0, len(rs))
	for i := range rs {
		r := rs[i].clone()
		if n := len(r.Reservations); n > 0 {
			r.Reservations = r.Reservations[: n-1 : n-1]
		}
		out = out.addOne(&r)
	}
	return out
}

// CountQuantities is like Quantities but also counts ranges and sets by the
// number of their members, as Mesos does for min_allocatable_resources:
// ports:[1-5] counts as ports:5.
func (rs Resources) CountQuantities() Quantities {
	var q Quantities
	for i := range rs {
		r := &rs[i]
		switch r.Type {
		case Scalar:
			q = q.addOne(r.Name, r.Scalar)
		case RangesType:
			q = q.addOne(r.Name, Value(min(r.Ranges.Count(), uint64(MaxValue)/ValueScale))*ValueScale)
		case SetType:
			q = q.addOne(r.Name, Units(int64(len(r.Set))))
		}
	}
	return q
}
