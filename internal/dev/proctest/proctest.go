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

// Traced says whether every thread of pid is ptraced (TracerPid not 0):
// strace -p returns before it has attached, so a test waits for this
// rather than for a fixed time.
func Traced(pid int) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return false
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "status"))
		if err != nil {
			return false
		}
		_, rest, ok := bytes.Cut(b, []byte("\nTracerPid:"))
		if !ok {
			return false
		}
		line, _, _ := bytes.Cut(rest, []byte("\n"))
		if tp := strings.TrimSpace(string(line)); tp == "0" || tp == "" {
			return false
		}
	}
	return true
}
