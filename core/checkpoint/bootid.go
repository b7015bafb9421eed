package checkpoint

import (
	"fmt"
	"os"
	"strings"
)

// bootIDPath is where Linux keeps a random id chosen at each boot.
const bootIDPath = "/proc/sys/kernel/random/boot_id"

// BootID returns the host's boot id, which changes at every reboot.
// agentd records it in AgentRecord.BootID at registration; a different
// one at restart means the host rebooted, so no executor survived. (Mesos
// then still tries to re-register with the old agent id, and erases its
// checkpoint only if the master refuses it.)
func BootID() (string, error) { return readBootID(bootIDPath) }

func readBootID(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("checkpoint: boot id: %w", err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" {
		return "", fmt.Errorf("checkpoint: boot id: %s is empty", path)
	}
	return id, nil
}
