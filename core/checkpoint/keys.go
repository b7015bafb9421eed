package checkpoint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Keys of the layout (see the package documentation).
const (
	keyFormat       = "meta/format"
	keyAgent        = "agent"
	keyResources    = "resources"
	prefixFramework = "framework/"

	// formatVersion is the layout version this build writes (into a new
	// checkpoint, and with the first resources record).
	formatVersion = "2"
	// formatV1 is the layout before the resources record. It is a subset
	// of version 2, so this build reads it as it is.
	formatV1 = "1"

	seqDigits = 16 // an update's sequence number: 16 lowercase hex digits
)

// keyKind says what a key holds.
type keyKind uint8

const (
	kindFormat keyKind = iota + 1
	kindAgent
	kindResources
	kindFramework
	kindExecutor
	kindTask
	kindUpdate
)

// key is a parsed key. Which ids are set depends on kind: framework for
// kindFramework and below, executor for kindExecutor, task for kindTask
// and kindUpdate, seq for kindUpdate.
type key struct {
	kind      keyKind
	framework string
	executor  string
	task      string
	seq       uint64
}

func frameworkKey(fw string) key    { return key{kind: kindFramework, framework: fw} }
func executorKey(fw, ex string) key { return key{kind: kindExecutor, framework: fw, executor: ex} }
func taskKey(fw, task string) key   { return key{kind: kindTask, framework: fw, task: task} }
func updateKey(fw, task string, seq uint64) key {
	return key{kind: kindUpdate, framework: fw, task: task, seq: seq}
}

// String is the key's bytes in the database.
func (k key) String() string {
	switch k.kind {
	case kindFormat:
		return keyFormat
	case kindAgent:
		return keyAgent
	case kindResources:
		return keyResources
	case kindFramework:
		return prefixFramework + escape(k.framework)
	case kindExecutor:
		return frameworkPrefix(k.framework) + "executor/" + escape(k.executor)
	case kindTask:
		return frameworkPrefix(k.framework) + "task/" + escape(k.task)
	case kindUpdate:
		return updatePrefix(k.framework, k.task) + fmt.Sprintf("%0*x", seqDigits, k.seq)
	}
	panic("checkpoint: key of unknown kind " + strconv.Itoa(int(k.kind)))
}

func (k key) bytes() []byte { return []byte(k.String()) }

// frameworkPrefix is the prefix of every key under a framework (its
// executors, tasks and updates), not including the framework's own key.
func frameworkPrefix(fw string) string { return prefixFramework + escape(fw) + "/" }

// updatePrefix is the prefix of a task's update stream.
func updatePrefix(fw, task string) string {
	return frameworkPrefix(fw) + "task/" + escape(task) + "/update/"
}

// prefixEnd is the smallest key greater than every key with the given
// prefix. Prefixes here end in '/', so incrementing the last byte is enough.
func prefixEnd(prefix string) []byte {
	b := []byte(prefix)
	b[len(b)-1]++
	return b
}

// parseKey parses a database key. It accepts only the canonical form that
// String produces, so parseKey(s).String() == s whenever it succeeds.
func parseKey(s string) (key, error) {
	switch s {
	case keyFormat:
		return key{kind: kindFormat}, nil
	case keyAgent:
		return key{kind: kindAgent}, nil
	case keyResources:
		return key{kind: kindResources}, nil
	}
	parts := strings.Split(s, "/")
	if parts[0] != "framework" {
		return key{}, errors.New("not part of the checkpoint layout")
	}
	ids := make([]string, 0, 3)
	for i := 1; i < len(parts); i += 2 {
		if i == len(parts)-1 && len(parts) == 6 {
			break // the update's sequence number, parsed below
		}
		id, err := unescape(parts[i])
		if err != nil {
			return key{}, fmt.Errorf("id %d: %w", len(ids)+1, err)
		}
		ids = append(ids, id)
	}
	switch {
	case len(parts) == 2:
		return frameworkKey(ids[0]), nil
	case len(parts) == 4 && parts[2] == "executor":
		return executorKey(ids[0], ids[1]), nil
	case len(parts) == 4 && parts[2] == "task":
		return taskKey(ids[0], ids[1]), nil
	case len(parts) == 6 && parts[2] == "task" && parts[4] == "update":
		seq, err := parseSeq(parts[5])
		if err != nil {
			return key{}, err
		}
		return updateKey(ids[0], ids[1], seq), nil
	}
	return key{}, errors.New("not part of the checkpoint layout")
}

func parseSeq(s string) (uint64, error) {
	if len(s) != seqDigits {
		return 0, errors.New("update sequence number is not 16 hex digits")
	}
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return 0, errors.New("update sequence number is not 16 lowercase hex digits")
		}
	}
	return strconv.ParseUint(s, 16, 64)
}

// safe reports whether b stands for itself in an escaped id. Everything
// else, '/' and '%' among it, is written %XX (uppercase hex).
func safe(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		strings.IndexByte("-._~:@+=,", b) >= 0
}

// escape makes an id into one key component: no '/', reversible.
func escape(id string) string {
	n := 0
	for i := 0; i < len(id); i++ {
		if !safe(id[i]) {
			n++
		}
	}
	if n == 0 {
		return id
	}
	const hex = "0123456789ABCDEF"
	b := make([]byte, 0, len(id)+2*n)
	for i := 0; i < len(id); i++ {
		c := id[i]
		if safe(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hex[c>>4], hex[c&15])
		}
	}
	return string(b)
}

// unescape undoes escape, accepting only what escape produces: a
// non-empty component, safe bytes as themselves, others as %XX.
func unescape(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty id")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case safe(c):
			b.WriteByte(c)
		case c == '%' && i+2 < len(s) && upperHex(s[i+1]) >= 0 && upperHex(s[i+2]) >= 0:
			d := byte(upperHex(s[i+1])<<4 | upperHex(s[i+2]))
			if safe(d) {
				return "", fmt.Errorf("needlessly escaped byte %q", d)
			}
			b.WriteByte(d)
			i += 2
		default:
			return "", fmt.Errorf("bad byte %q in an id", c)
		}
	}
	return b.String(), nil
}

func upperHex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
