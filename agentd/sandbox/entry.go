package sandbox

import (
	"io/fs"
	"os/user"
	"strconv"
)

// newEntry describes info, found at the host path p, for a listing.
func newEntry(p string, info fs.FileInfo, owners *ownerCache) Entry {
	e := Entry{
		Path:  p,
		Size:  info.Size(),
		Mode:  modeString(info.Mode()),
		MTime: info.ModTime().Unix(),
		NLink: 1,
	}
	if st, ok := ownership(info); ok {
		e.NLink = st.nlink
		e.UID = owners.user(st.uid)
		e.GID = owners.group(st.gid)
	}
	return e
}

// owner is the part of a file's status that is not in fs.FileInfo.
type owner struct {
	uid, gid uint32
	nlink    uint64
}

// ownerCache remembers user and group names for one listing, so that a
// directory of many files owned by one user costs one lookup.
type ownerCache struct {
	users, groups map[uint32]string
}

func newOwnerCache() *ownerCache {
	return &ownerCache{users: map[uint32]string{}, groups: map[uint32]string{}}
}

// user returns the name of uid, or uid in decimal if it has none.
func (c *ownerCache) user(uid uint32) string {
	name, ok := c.users[uid]
	if !ok {
		name = strconv.FormatUint(uint64(uid), 10)
		if u, err := user.LookupId(name); err == nil {
			name = u.Username
		}
		c.users[uid] = name
	}
	return name
}

// group returns the name of gid, or gid in decimal if it has none.
func (c *ownerCache) group(gid uint32) string {
	name, ok := c.groups[gid]
	if !ok {
		name = strconv.FormatUint(uint64(gid), 10)
		if g, err := user.LookupGroupId(name); err == nil {
			name = g.Name
		}
		c.groups[gid] = name
	}
	return name
}
