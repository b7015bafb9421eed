package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "agentd: not built yet; see README.md")
	os.Exit(2)
}
