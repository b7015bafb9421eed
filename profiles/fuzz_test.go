package profiles

import (
	"encoding/json"
	"reflect"
	"testing"
)

// FuzzDecode: arbitrary bytes never panic the decoder or the validator,
// and a profile that decodes writes back (json.Marshal) to bytes that
// decode to the same profile — so what the load generator prints is what
// it ran.
func FuzzDecode(f *testing.F) {
	for _, name := range Names() {
		data, err := files.ReadFile(name + ".json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"name":"x","cluster":{"agents":1,"agent_resources":"cpus:1"},"frameworks":[null],"run":null}`))
	f.Add([]byte(`{"frameworks":[{"task":{"duration":{"median":"1.5hrs"}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal of a valid profile: %v", err)
		}
		q, err := Parse("fuzz", out)
		if err != nil {
			t.Fatalf("a valid profile does not re-validate: %v\nin:  %s\nout: %s", err, data, out)
		}
		if !reflect.DeepEqual(p, q) {
			t.Fatalf("round trip changed the profile:\n%+v\n%+v\nout: %s", p, q, out)
		}
	})
}
