package core

import (
	"errors"
	"testing"
)

func dyn(role, principal string) Reservation {
	return Reservation{Type: Dynamic, Role: role, Principal: principal}
}

func volume(rs Resources, id, path string, shared bool) Resources {
	out := rs.Clone()
	for i := range out {
		out[i].Disk = &DiskInfo{Persistence: &Persistence{ID: id}, Volume: &Volume{ContainerPath: path, Mode: RW}}
		out[i].Shared = shared
	}
	return out
}

// TestOperationsRoundTrip: reserve, create, destroy and unreserve on an
// agent's total, in turn, bring it back to where it started; the
// checkpointed part and ApplyCheckpointed agree at every step.
func TestOperationsRoundTrip(t *testing.T) {
	static := MustParseResources("cpus:8;mem:4096;disk:1000;disk(db):500")
	reserved := MustParseResources("cpus:2;disk:300").Reserve(dyn("db", "alice"))
	refined := MustParseResources("disk:100").Reserve(Reservation{Type: Static, Role: "db"}).Reserve(dyn("db/x", "alice"))
	vol := volume(MustParseResources("disk:200").Reserve(dyn("db", "alice")), "data", "data", false)

	steps := []struct {
		name string
		conv func() (Conversion, error)
	}{
		{"reserve", func() (Conversion, error) { return ReserveConversion(reserved, "alice") }},
		{"refine", func() (Conversion, error) { return ReserveConversion(refined, "") }},
		{"create", func() (Conversion, error) { return CreateConversion(vol) }},
		{"destroy", func() (Conversion, error) { return DestroyConversion(vol) }},
		{"unreserve refined", func() (Conversion, error) { return UnreserveConversion(refined) }},
		{"unreserve", func() (Conversion, error) { return UnreserveConversion(reserved) }},
	}
	total := static
	for _, s := range steps {
		c, err := s.conv()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if !c.Consumed.Quantities().Contains(c.Converted.Quantities()) || !c.Converted.Quantities().Contains(c.Consumed.Quantities()) {
			t.Fatalf("%s: %v and %v differ in quantities", s.name, c.Consumed, c.Converted)
		}
		if total, err = total.Apply(c); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		again, err := ApplyCheckpointed(static, total.Checkpointed())
		if err != nil || !again.Equal(total) {
			t.Fatalf("%s: ApplyCheckpointed(static, %v) = %v, %v; want %v", s.name, total.Checkpointed(), again, err, total)
		}
	}
	if !total.Equal(static) {
		t.Fatalf("after the round trip: %v, want %v", total, static)
	}
}

func TestOperationsRefused(t *testing.T) {
	unreserved := MustParseResources("disk:100")
	reserved := unreserved.Reserve(dyn("db", "alice"))
	static := MustParseResources("disk(db):100")
	for name, err := range map[string]error{
		"reserve unreserved":       second(ReserveConversion(unreserved, "")),
		"reserve static":           second(ReserveConversion(static, "")),
		"reserve wrong principal":  second(ReserveConversion(reserved, "bob")),
		"reserve nothing":          second(ReserveConversion(nil, "")),
		"unreserve static":         second(UnreserveConversion(static)),
		"unreserve a volume":       second(UnreserveConversion(volume(reserved, "v", "v", false))),
		"create on plain disk":     second(CreateConversion(reserved)),
		"create with a bad id":     second(CreateConversion(volume(reserved, "../x", "v", false))),
		"create at an absolute":    second(CreateConversion(volume(reserved, "v", "/data", false))),
		"create escaping sandbox":  second(CreateConversion(volume(reserved, "v", "a/../../b", false))),
		"create an id twice":       second(CreateConversion(volume(reserved, "v", "v", false).Add(volume(MustParseResources("disk:5").Reserve(dyn("db", "alice")), "v", "w", false)))),
		"destroy plain disk":       second(DestroyConversion(reserved)),
		"apply what is not there":  second(unreserved.Apply(Conversion{Consumed: MustParseResources("disk:200"), Converted: MustParseResources("disk:200")})),
		"checkpointed beyond disk": second(ApplyCheckpointed(unreserved, MustParseResources("disk:200").Reserve(dyn("db", "")))),
		"checkpointed unreserved":  second(ApplyCheckpointed(unreserved, unreserved)),
	} {
		if !errors.Is(err, ErrBadOperation) {
			t.Errorf("%s: got %v, want an ErrBadOperation", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }
