package mesos

import (
	"bytes"
	"encoding/json"
	"strconv"

	"meseta/core"
)

// OfferResources are resources allocated to one role, as offers and
// tasks show them: each entry carries allocation_info with the role, and
// unreserved entries also carry the pre-refinement "role": "*" that older
// clients read.
type OfferResources struct {
	Role      string
	Resources core.Resources
}

// MarshalJSON encodes the list with allocation_info on every entry.
func (o OfferResources) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	alloc := `"allocation_info":{"role":` + strconv.Quote(o.Role) + `},`
	for i, r := range o.Resources {
		if i > 0 {
			b.WriteByte(',')
		}
		j, err := r.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b.WriteByte('{')
		if o.Role != "" {
			b.WriteString(alloc)
		}
		if !r.IsReserved() {
			b.WriteString(`"role":"*",`)
		}
		b.Write(j[1:])
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes a resource list (allocation_info is ignored).
func (o *OfferResources) UnmarshalJSON(data []byte) error {
	return json.Unmarshal(data, &o.Resources)
}
