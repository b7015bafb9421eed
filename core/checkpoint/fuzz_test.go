package checkpoint

import (
	"bytes"
	"testing"
)

// FuzzDecodeRecord feeds arbitrary bytes to every record decoder and to
// the key parser. None may panic; a record that decodes re-encodes to
// JSON that decodes again to the same JSON (a fixed point), and its key
// can be formed; a key that parses is in its canonical form; an escaped
// id unescapes to itself.
func FuzzDecodeRecord(f *testing.F) {
	st := populated()
	for _, v := range []any{*st.Agent, resourcesRec(), st.Frameworks["f1"], st.Executors[0], st.Tasks[0], st.Updates[[2]string{"f1", "t1"}][0]} {
		b, err := encode(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "null", "{}", "[]", `{"agent_id":"a"} x`, `{"info":{"id":{"value":"f"}}}`,
		`{"framework_id":"f","executor_id":"e","info":{"task_id":{"value":"t"}},"state":"TASK_RUNNING"}`,
		"framework/a%2Fb/task/t/update/0000000000000001", "framework/%ZZ", "agent", "meta/format", "resources",
		`{"resources":[{"name":"disk","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"r"}]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		roundTrip(t, data, decodeAgent, func(r *AgentRecord) key { return key{kind: kindAgent} })
		roundTrip(t, data, decodeResources, func(r *ResourcesRecord) key { return key{kind: kindResources} })
		roundTrip(t, data, decodeFramework, (*FrameworkRecord).key)
		roundTrip(t, data, decodeExecutor, (*ExecutorRecord).key)
		roundTrip(t, data, decodeTask, (*TaskRecord).key)
		roundTrip(t, data, decodeUpdate, nil)

		if k, err := parseKey(string(data)); err == nil && k.String() != string(data) {
			t.Fatalf("key %q parses to %+v, which formats as %q", data, k, k.String())
		}
		if id := string(data); id != "" {
			back, err := unescape(escape(id))
			if err != nil || back != id {
				t.Fatalf("id %q escapes to %q, which unescapes to %q, %v", id, escape(id), back, err)
			}
		}
	})
}

func roundTrip[T any](t *testing.T, data []byte, decode func([]byte) (T, error), keyOf func(*T) key) {
	t.Helper()
	r, err := decode(data)
	if err != nil {
		return
	}
	if keyOf != nil {
		_ = keyOf(&r).String()
	}
	enc, err := encode(r)
	if err != nil {
		t.Fatalf("%T decoded from %q does not encode: %v", r, data, err)
	}
	r2, err := decode(enc)
	if err != nil {
		t.Fatalf("%T: re-encoded %s does not decode: %v", r, enc, err)
	}
	enc2, err := encode(r2)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("%T: encodings differ:\n%s\n%s (%v)", r, enc, enc2, err)
	}
}
