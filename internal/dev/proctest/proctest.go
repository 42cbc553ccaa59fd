package proctest

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Children returns the live (not zombie) child processes of this process
// whose command (comm) is exactly comm.
func Children(comm string) []int {
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// comm may hold spaces and parentheses: it runs from the first '('
		// to the last ')'.
		i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if i < 0 || j < i {
			continue
		}
		f := strings.Fields(string(b[j+1:])) // state ppid …
		if string(b[i+1:j]) == comm && len(f) > 1 && f[1] == me && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}
