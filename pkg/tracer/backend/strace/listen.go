package strace

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
)

// ListenPorts returns the TCP ports in LISTEN state in pid's network
// namespace (/proc/PID/net/tcp and tcp6). The strace scrubber needs them
// at attach: a handler's server socket was created long before strace
// came, so its listen() is not in the trace, and only reads on
// connections to these ports are requests the handler received (the
// only data whose request line and X-Call-Id may leave the node).
// Unreadable files give no ports; the scrubber then learns them from
// listen() and accept() lines as they come.
func ListenPorts(procRoot string, pid int) []int {
	var out []int
	seen := map[int]bool{}
	for _, f := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "net", f))
		if err != nil {
			continue
		}
		for _, p := range parseListen(data) {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// parseListen reads the "local_address" port of every LISTEN ("0A") row
// of a /proc/net/tcp{,6} table.
func parseListen(data []byte) []int {
	var out []int
	sc := bufio.NewScanner(bytes.NewReader(data))
	first := true
	for sc.Scan() {
		if first {
			first = false // header
			continue
		}
		f := bytes.Fields(sc.Bytes())
		if len(f) < 4 || string(f[3]) != "0A" {
			continue
		}
		i := bytes.LastIndexByte(f[1], ':')
		if i < 0 {
			continue
		}
		port, err := strconv.ParseUint(string(f[1][i+1:]), 16, 16)
		if err != nil || port == 0 {
			continue
		}
		out = append(out, int(port))
	}
	return out
}
