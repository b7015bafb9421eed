package checkpoint

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"meseta/core"
)

// TestResources: the checkpointed resources survive Close, Open and
// Recover, a second SetResources replaces them, and they sit beside the
// other records without disturbing them.
func TestResources(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s)
	must(t, s.SetResources(resourcesRec()))
	want := populated()
	want.Resources = resourcesRec()
	s = reopen(t, s)
	checkState(t, recoverStrict(t, s), want)

	// The destroyed volume is gone: the set is written again without it.
	done := resourcesRec()
	done.Destroying = nil
	must(t, s.SetResources(done))
	want.Resources = done
	checkState(t, recoverStrict(t, reopen(t, s)), want)
}

// TestResourcesRefused: SetResources takes only what an agent
// checkpoints, and changes nothing otherwise.
func TestResourcesRefused(t *testing.T) {
	s := openStore(t, t.TempDir())
	must(t, s.SetResources(resourcesRec()))
	good := resourcesRec()
	unreserved := core.MustParseResources("cpus:1")
	static := unreserved.Reserve(core.Reservation{Type: core.Static, Role: "db"})
	badID := slices.Clone(good.Resources)
	for i := range badID {
		if badID[i].IsPersistentVolume() {
			d := *badID[i].Disk
			p := *d.Persistence
			p.ID = ".."
			d.Persistence = &p
			badID[i].Disk = &d
		}
	}
	for name, r := range map[string]ResourcesRecord{
		"unreserved":              {Resources: unreserved},
		"statically reserved":     {Resources: static},
		"revocable":               {Resources: withRevocable(good.Resources[:1])},
		"persistence id '..'":     {Resources: badID},
		"not normalized":          {Resources: append(slices.Clone(good.Resources[:1]), good.Resources[0])},
		"destroying a non-volume": {Resources: good.Resources, Destroying: good.Resources[:1]},
	} {
		if err := s.SetResources(r); !errors.Is(err, ErrBadRecord) {
			t.Errorf("%s: SetResources: %v, want ErrBadRecord", name, err)
		}
	}
	if got := recoverStrict(t, s).Resources; !reflect.DeepEqual(got, good) {
		t.Fatalf("after refused writes: %+v, want %+v", got, good)
	}
}

func withRevocable(rs core.Resources) core.Resources {
	rs = rs.Clone()
	for i := range rs {
		rs[i].Revocable = true
	}
	return rs
}

// TestResetKeepsResources: Reset forgets the agent and what it ran but
// not its reservations and volumes, which belong to the host.
func TestResetKeepsResources(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s)
	must(t, s.SetResources(resourcesRec()))
	must(t, s.Reset())
	s = reopen(t, s)
	if got := keys(t, s); !slices.Equal(got, []string{"meta/format", "resources"}) {
		t.Fatalf("keys after Reset: %q", got)
	}
	st := recoverStrict(t, s)
	if st.Agent != nil || len(st.Frameworks)+len(st.Executors)+len(st.Tasks)+len(st.Updates) != 0 {
		t.Fatalf("state after Reset: %+v", st)
	}
	if !reflect.DeepEqual(st.Resources, resourcesRec()) {
		t.Fatalf("resources after Reset: %+v, want %+v", st.Resources, resourcesRec())
	}

	// An unreadable record goes, so that strict recovery reads what
	// Reset leaves.
	setRaw(t, s, keyResources, []byte(`{"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}`))
	must(t, s.Reset())
	if got := keys(t, s); !slices.Equal(got, []string{"meta/format"}) {
		t.Fatalf("keys after Reset of an unreadable resources record: %q", got)
	}
	recoverStrict(t, s)

	// A foreign database loses everything, a "resources" key too: this
	// build cannot know what that version meant by it.
	must(t, s.SetResources(resourcesRec()))
	setRaw(t, s, keyFormat, []byte("3"))
	s = reopen(t, s)
	must(t, s.Reset())
	if got := keys(t, s); !slices.Equal(got, []string{"meta/format"}) {
		t.Fatalf("keys after Reset of a version-3 database: %q", got)
	}
}

// TestFormatV1: a version-1 checkpoint (the layout before the resources
// record) is read and written as it is, and stays version 1 across
// Reset, so that the build before this one can still read it; the first
// SetResources raises it to version 2 in the same write.
func TestFormatV1(t *testing.T) {
	s := openStore(t, t.TempDir())
	populate(t, s)
	setRaw(t, s, keyFormat, []byte("1"))
	s = reopen(t, s)
	checkState(t, recoverStrict(t, s), populated())
	must(t, s.Reset())
	populate(t, s)
	if v := rawFormat(t, s); v != "1" {
		t.Fatalf("format after writes to a version-1 checkpoint: %q, want 1", v)
	}
	must(t, s.SetResources(resourcesRec()))
	s = reopen(t, s)
	if v := rawFormat(t, s); v != "2" {
		t.Fatalf("format after SetResources: %q, want 2", v)
	}
	want := populated()
	want.Resources = resourcesRec()
	checkState(t, recoverStrict(t, s), want)
}

func rawFormat(t *testing.T, s *Store) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	v, closer, err := s.db.Get([]byte(keyFormat))
	must(t, err)
	defer closer.Close()
	return string(v)
}
