package mesos

import (
	"encoding/json"
	"errors"
	"meseta/core"
	"strings"
	"testing"
)

func TestDecodeCallNamesTheField(t *testing.T) {
	for _, tc := range []struct {
		in, field string
	}{
		{`{"type":"DECLINE","framework_id":{"value":"f"},"decline":{"offer_ids":"x"}}`, "decline.offer_ids"},
		{`{"type":"DECLINE","framework_id":{"value":"f"},"decline":{"offer_ids":[{"value":7}]}}`, "decline.offer_ids.value"},
		{`{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"FLY"}]}}`, "accept.operations[0].type"},
		{`{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[{"value":""}]}}`, "accept.offer_ids[0].value"},
		{`{"type":"KILL","framework_id":{"value":"f"},"kill":{}}`, "kill.task_id"},
		{`{"type":"ACKNOWLEDGE","framework_id":{"value":"f"},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"!!"}}`, ""},
		{`{"type":"REVIVE"}`, "framework_id"},
		{`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u"}}}`, "subscribe.framework_info.name"},
		{`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","roles":["a"]}}}`, "subscribe.framework_info.roles"},
		{`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","capabilities":[{"type":"WARP"}]}}}`, "subscribe.framework_info.capabilities[0].type"},
		{`{}`, "type"},
		{`[]`, ""},
		{`{"type":"REVIVE"} {}`, ""},
	} {
		_, err := DecodeCall([]byte(tc.in))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a FieldError", tc.in, err)
			continue
		}
		if fe.Field != tc.field {
			t.Errorf("%s: field %q (%v), want %q", tc.in, fe.Field, err, tc.field)
		}
	}
}

func TestDecodeCallAccepts(t *testing.T) {
	in := `{"framework_id":{"value":"f"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"o1"}],
	  "operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},
	  "resources":[{"allocation_info":{"role":"r"},"name":"cpus","role":"*","type":"SCALAR","scalar":{"value":1}}],
	  "command":{"shell":true,"value":"sleep 1","uris":[{"value":"http://x/y.tgz","extract":false}]}}]}}],
	  "filters":{"refuse_seconds":5.0}},"unknown_field":1}`
	c, err := DecodeCall([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	ti := c.Accept.Operations[0].Launch.TaskInfos[0]
	if ti.Resources.ScalarValue("cpus").Float() != 1 || ti.Command.URIs[0].ShouldExtract() || !ti.Command.IsShell() {
		t.Fatalf("decoded %+v", ti)
	}
}

func TestOfferResourcesCarryTheRole(t *testing.T) {
	c, err := DecodeCall([]byte(`{"type":"REVIVE","framework_id":{"value":"f"}}`))
	if err != nil || c.Type != CallRevive {
		t.Fatal(err)
	}
	o := Offer{Resources: OfferResources{Role: "web"}}
	o.Resources.Resources = core.MustParseResources("cpus:1")
	b, _ := json.Marshal(o)
	if !strings.Contains(string(b), `"allocation_info":{"role":"web"},"role":"*","name":"cpus"`) {
		t.Fatalf("offer JSON %s", b)
	}
}

// FuzzDecodeCall: arbitrary bodies never panic; a decoded call validates,
// and re-encodes to a body that decodes again.
func FuzzDecodeCall(f *testing.F) {
	for _, s := range []string{
		`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n"}}}`,
		`{"type":"DECLINE","framework_id":{"value":"f"},"decline":{"offer_ids":[{"value":"o"}],"filters":{"refuse_seconds":1}}}`,
		`{"type":"ACCEPT","framework_id":{"value":"f"},"accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}],"command":{"value":"x"}}]}}]}}`,
		`{"type":"ACKNOWLEDGE","framework_id":{"value":"f"},"acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"AAEC"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCall(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := DecodeCall(b); err != nil {
			t.Fatalf("re-decode of %s: %v", b, err)
		}
	})
}
