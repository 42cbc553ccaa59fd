package strace

import (
	"os"
	"path/filepath"
	"strconv"

	"github.com/faasmon/faasmon/pkg/chunk"
)

// Threads maps the thread ids of pids (other than the pids themselves) to
// their process, from procRoot/<pid>/task. strace -f -p attaches to every
// thread of a process but never shows them being created, so the graph
// builder needs this list to fold their syscalls into their process.
// Read after strace started, so that no thread created in between is
// missed; a thread created later shows up in the trace as a clone anyway.
// At most chunk.MaxThreads entries; a process that is gone is skipped.
func Threads(procRoot string, pids []int) map[int]int {
	m := map[int]int{}
	for _, pid := range pids {
		ents, err := os.ReadDir(filepath.Join(procRoot, strconv.Itoa(pid), "task"))
		if err != nil {
			continue
		}
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || tid == pid {
				continue
			}
			if len(m) >= chunk.MaxThreads {
				return m
			}
			m[tid] = pid
		}
	}
	return m
}
