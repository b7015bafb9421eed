package agentapi

import (
	"encoding/json"
	"testing"

	"meseta/core/mesos"
)

// FuzzBatch: the master decodes agent batches with mesos.Decode and
// validates every call; neither may panic, and a batch that passes
// re-encodes to one that passes again.
func FuzzBatch(f *testing.F) {
	f.Add([]byte(`{"calls":[{"type":"PONG","agent_id":{"value":"a"},"pong":{"seq":3}}]}`))
	f.Add([]byte(`{"calls":[{"type":"STATUS_UPDATE","agent_id":{"value":"a"},"status_update":{"framework_id":{"value":"f"},"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","uuid":"AQID"}}}]}`))
	f.Add([]byte(`{"calls":[{"type":"REGISTER","register":{"agent_info":{"hostname":"h","resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]},"endpoint":"h:1"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b Batch
		if err := mesos.Decode(data, &b); err != nil {
			return
		}
		for i := range b.Calls {
			if b.Calls[i].Validate() != nil {
				return
			}
		}
		enc, err := json.Marshal(&b)
		if err != nil {
			t.Fatal(err)
		}
		var again Batch
		if err := mesos.Decode(enc, &again); err != nil {
			t.Fatalf("re-decode %s: %v", enc, err)
		}
		for i := range again.Calls {
			if err := again.Calls[i].Validate(); err != nil {
				t.Fatalf("re-validate %s: %v", enc, err)
			}
		}
	})
}
