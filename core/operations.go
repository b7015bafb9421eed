package core

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Offer operations change resources in place: RESERVE turns unreserved
// (or coarser-reserved) resources into ones reserved for a role, CREATE
// turns reserved disk into a persistent volume, and UNRESERVE and DESTROY
// undo them. Each is a Conversion: Consumed leaves, Converted takes its
// place, with the same quantities. The master applies conversions to an
// agent's total and to a framework's allocation; the agent keeps the
// result as its checkpointed resources (Checkpointed).

// ErrBadOperation is wrapped by every error about an operation's
// resources.
var ErrBadOperation = errors.New("core: bad operation")

// Conversion replaces Consumed with Converted.
type Conversion struct {
	Consumed, Converted Resources
}

// Apply returns rs with c applied; rs must contain c.Consumed.
func (rs Resources) Apply(c Conversion) (Resources, error) {
	if !rs.Contains(c.Consumed) {
		return nil, fmt.Errorf("%w: %v is not among %v", ErrBadOperation, c.Consumed, rs)
	}
	return rs.Sub(c.Consumed).Add(c.Converted), nil
}

func opError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadOperation, fmt.Sprintf(format, args...))
}

// IsDynamicallyReserved reports whether the top of r's reservation stack is
// a dynamic reservation.
func (r *Resource) IsDynamicallyReserved() bool {
	n := len(r.Reservations)
	return n > 0 && r.Reservations[n-1].Type == Dynamic
}

// ReserveConversion checks the resources of a RESERVE, each of which
// carries the reservation to push (a dynamic one, refining what lies
// below it), and returns the conversion. principal, when not empty, must
// be the reservation's principal (Mesos's rule for frameworks and
// operators that authenticate).
func ReserveConversion(rs Resources, principal string) (Conversion, error) {
	if rs.IsEmpty() {
		return Conversion{}, opError("reserve: no resources")
	}
	for i := range rs {
		r := &rs[i]
		switch {
		case !r.IsDynamicallyReserved():
			return Conversion{}, opError("reserve: %s must carry a dynamic reservation on top of its reservations", r.Name)
		case r.IsPersistentVolume():
			return Conversion{}, opError("reserve: %s is a persistent volume", r.Name)
		case r.Revocable:
			return Conversion{}, opError("reserve: %s is revocable", r.Name)
		case principal != "" && r.Reservations[len(r.Reservations)-1].Principal != principal:
			return Conversion{}, opError("reserve: the reservation's principal %q is not %q",
				r.Reservations[len(r.Reservations)-1].Principal, principal)
		}
	}
	return Conversion{Consumed: rs.Unreserve(), Converted: rs.Clone()}, nil
}

// UnreserveConversion checks the resources of an UNRESERVE, each
// dynamically reserved and not a persistent volume, and returns the
// conversion that pops their top reservation.
func UnreserveConversion(rs Resources) (Conversion, error) {
	if rs.IsEmpty() {
		return Conversion{}, opError("unreserve: no resources")
	}
	for i := range rs {
		r := &rs[i]
		switch {
		case !r.IsDynamicallyReserved():
			return Conversion{}, opError("unreserve: %s is not dynamically reserved", r.Name)
		case r.IsPersistentVolume():
			return Conversion{}, opError("unreserve: %s is a persistent volume; destroy it first", r.Name)
		}
	}
	return Conversion{Consumed: rs.Clone(), Converted: rs.Unreserve()}, nil
}

// CreateConversion checks the volumes of a CREATE, each a persistent
// volume on reserved disk with a valid persistence id, and returns the
// conversion from the plain reserved disk they take.
func CreateConversion(volumes Resources) (Conversion, error) {
	if volumes.IsEmpty() {
		return Conversion{}, opError("create: no volumes")
	}
	seen := map[string]bool{}
	for i := range volumes {
		v := &volumes[i]
		if !v.IsPersistentVolume() {
			return Conversion{}, opError("create: %s is not a persistent volume (disk with persistence and volume)", v.Name)
		}
		if err := ValidatePersistenceID(v.Disk.Persistence.ID); err != nil {
			return Conversion{}, err
		}
		if err := ValidateContainerPath(v.Disk.Volume.ContainerPath); err != nil {
			return Conversion{}, err
		}
		if seen[v.Disk.Persistence.ID] {
			return Conversion{}, opError("create: persistence id %q is given twice", v.Disk.Persistence.ID)
		}
		seen[v.Disk.Persistence.ID] = true
	}
	return Conversion{Consumed: volumes.StripVolumes(), Converted: volumes.Clone()}, nil
}

// DestroyConversion checks the volumes of a DESTROY and returns the
// conversion back to the reserved disk they took.
func DestroyConversion(volumes Resources) (Conversion, error) {
	if volumes.IsEmpty() {
		return Conversion{}, opError("destroy: no volumes")
	}
	for i := range volumes {
		if !volumes[i].IsPersistentVolume() {
			return Conversion{}, opError("destroy: %s is not a persistent volume", volumes[i].Name)
		}
	}
	return Conversion{Consumed: volumes.Clone(), Converted: volumes.StripVolumes()}, nil
}

// StripVolumes returns rs with the persistent-volume part (persistence,
// volume, the shared marker) taken off every entry.
func (rs Resources) StripVolumes() Resources {
	out := make(Resources, 0, len(rs))
	for i := range rs {
		r := rs[i].clone()
		if r.IsPersistentVolume() {
			r.Disk, r.Shared = nil, false
		}
		out = out.addOne(&r)
	}
	return out
}

// PersistenceIDs returns the persistence ids of rs's volumes.
func (rs Resources) PersistenceIDs() []string {
	var ids []string
	for i := range rs {
		if rs[i].IsPersistentVolume() {
			ids = append(ids, rs[i].Disk.Persistence.ID)
		}
	}
	return ids
}

// ValidatePersistenceID checks a persistence id: it names a directory on
// the agent, so it is a single path component.
func ValidatePersistenceID(id string) error {
	switch {
	case id == "":
		return opError("persistence id is empty")
	case len(id) > 255:
		return opError("persistence id %.20q... is longer than 255 bytes", id)
	case id == "." || id == ".." || strings.ContainsAny(id, "/\x00"):
		return opError("persistence id %q must not be '.' or '..' or hold '/' or NUL", id)
	}
	return nil
}

// ValidateContainerPath checks a volume's container path: relative to
// the sandbox, and staying inside it.
func ValidateContainerPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) {
		return opError("container path %q must be a relative path inside the sandbox", p)
	}
	if slices.Contains(strings.Split(p, "/"), "..") {
		return opError("container path %q must not hold '..'", p)
	}
	return nil
}

// Checkpointed returns the part of rs an agent checkpoints: dynamically
// reserved resources and persistent volumes.
func (rs Resources) Checkpointed() Resources {
	return rs.Filter(func(r *Resource) bool {
		return !r.Revocable && (r.IsDynamicallyReserved() || r.IsPersistentVolume())
	})
}

// base is what a checkpointed resource was carved from: r without its
// dynamic reservations and without its persistent volume.
func (r *Resource) base() Resource {
	b := r.clone()
	if b.IsPersistentVolume() {
		b.Disk, b.Shared = nil, false
	}
	for b.IsDynamicallyReserved() {
		b.Reservations = b.Reservations[: len(b.Reservations)-1 : len(b.Reservations)-1]
	}
	return b
}

// ApplyCheckpointed returns an agent's total: its static resources (from
// its flags) with its checkpointed resources carved out of them. Every
// checkpointed resource must be dynamically reserved or a persistent
// volume, and what it was carved from must be in static.
func ApplyCheckpointed(static, checkpointed Resources) (Resources, error) {
	total := static.Clone()
	for i := range checkpointed {
		r := &checkpointed[i]
		if !r.IsDynamicallyReserved() && !r.IsPersistentVolume() {
			return nil, opError("checkpointed %s is neither dynamically reserved nor a persistent volume", r.Name)
		}
		b := Resources{r.base()}
		if !total.Contains(b) {
			return nil, opError("checkpointed %v does not fit in the agent's resources %v", Resources{*r}, total)
		}
		total = total.Sub(b).Add(Resources{*r})
	}
	return total, nil
}
