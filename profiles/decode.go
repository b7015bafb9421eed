package profiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// decodeStrict decodes data into v (a pointer), refusing unknown fields
// and naming every bad field by its JSON path (`frameworks[2].task.kind`).
//
// encoding/json's DisallowUnknownFields says `unknown field "x"` without
// saying where, and its type errors drop slice indices; a profile with 300
// framework groups needs the index. So the decoder walks the Go type
// itself: objects and arrays are split into json.RawMessage and matched
// against the struct's json tags, exactly (no case folding); leaves, and
// types with their own UnmarshalJSON, go to encoding/json.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the profile")
	}
	return decodeValue("", raw, reflect.ValueOf(v).Elem())
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func decodeValue(path string, raw json.RawMessage, v reflect.Value) error {
	at := func(err error) error {
		if path == "" {
			return err
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil // as encoding/json: null leaves the zero value
	}
	if reflect.PointerTo(v.Type()).Implements(unmarshalerType) {
		if err := v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(raw); err != nil {
			return at(err)
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return decodeValue(path, raw, v.Elem())
	case reflect.Struct:
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			return at(fmt.Errorf("want an object, not %s", describe(raw)))
		}
		byName := jsonFields(v.Type())
		var errs []error
		for _, name := range sortedKeys(fields) {
			i, ok := byName[name]
			if !ok {
				errs = append(errs, fmt.Errorf("%s: unknown field %q", join(path, name), name))
				continue
			}
			if err := decodeValue(join(path, name), fields[name], v.Field(i)); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	case reflect.Slice:
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return at(fmt.Errorf("want an array, not %s", describe(raw)))
		}
		s := reflect.MakeSlice(v.Type(), len(elems), len(elems))
		var errs []error
		for i, e := range elems {
			if err := decodeValue(fmt.Sprintf("%s[%d]", path, i), e, s.Index(i)); err != nil {
				errs = append(errs, err)
			}
		}
		v.Set(s)
		return errors.Join(errs...)
	default:
		if err := json.Unmarshal(raw, v.Addr().Interface()); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return at(fmt.Errorf("want %s, not %s", kindName(v.Kind()), describe(raw)))
			}
			return at(err)
		}
		return nil
	}
}

// jsonFields maps a struct's JSON names to field indices.
func jsonFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = i
	}
	return out
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func sortedKeys(m map[string]json.RawMessage) []string {
	// Sorted so that the errors come out in a stable order.
	return slices.Sorted(maps.Keys(m))
}

func kindName(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "a whole number"
	case reflect.Float64, reflect.Float32:
		return "a number"
	}
	return k.String()
}

// describe names a JSON value's type for an error, with a short excerpt.
func describe(raw json.RawMessage) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 24 {
		s = s[:24] + "..."
	}
	return s
}
