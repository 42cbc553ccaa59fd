package ebpf

import (
	"bufio"
	"encoding/binary"
	hexenc "encoding/hex"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// sockInfo is what /proc says of a TCP socket: its endpoints, and whether
// it is a connection to a port the process's network namespace listens on
// (a request the process received, not one it made).
type sockInfo struct {
	local, remote string
	inbound       bool
}

// socketOf names the TCP socket behind fd of pid from /proc: the fd's
// inode looked up in the process's /proc/<pid>/net/tcp and tcp6 (its own
// network namespace). What strace -yy prints for a socket, for the fds
// this sensor did not see created (opened before it attached) and the
// connections accept did not name (accept4 with a NULL address: libuv).
// ok is false for anything but a TCP socket still open.
func socketOf(procRoot string, pid, fd int) (sockInfo, bool) {
	l, err := os.Readlink(filepath.Join(procRoot, strconv.Itoa(pid), "fd", strconv.Itoa(fd)))
	if err != nil || !strings.HasPrefix(l, "socket:[") {
		return sockInfo{}, false
	}
	inode := strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")
	var si sockInfo
	found := false
	listening := map[string]bool{}
	for _, f := range []string{"tcp", "tcp6"} {
		file, err := os.Open(filepath.Join(procRoot, strconv.Itoa(pid), "net", f))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(file)
		for n := 0; sc.Scan() && n < 1<<16; n++ {
			fs := strings.Fields(sc.Text())
			if len(fs) < 10 || fs[0] == "sl" {
				continue
			}
			if fs[3] == "0A" { // LISTEN
				if _, port, ok := strings.Cut(fs[1], ":"); ok {
					listening[port] = true
				}
			}
			if fs[9] == inode {
				si.local, si.remote, found = procAddr(fs[1]), procAddr(fs[2]), true
			}
		}
		file.Close()
	}
	if !found || si.local == "" {
		return sockInfo{}, false
	}
	if i := strings.LastIndexByte(si.local, ':'); i >= 0 {
		p, _ := strconv.Atoi(si.local[i+1:])
		si.inbound = listening[strings.ToUpper(strconv.FormatInt(int64(p)+0x10000, 16)[1:])]
	}
	return si, true
}

// procAddr formats /proc/net/tcp's "0100007F:1F90" (the address in 32-bit
// host-order words, the port big endian) as sockaddr does: "127.0.0.1:8080",
// "[::ffff:10.0.0.1]:8080".
func procAddr(s string) string {
	a, p, ok := strings.Cut(s, ":")
	if !ok {
		return ""
	}
	b, err := hexenc.DecodeString(a)
	port, perr := strconv.ParseUint(p, 16, 16)
	if err != nil || perr != nil || (len(b) != 4 && len(b) != 16) {
		return ""
	}
	for i := 0; i+4 <= len(b); i += 4 {
		binary.BigEndian.PutUint32(b[i:], binary.LittleEndian.Uint32(b[i:]))
	}
	ps := strconv.FormatUint(port, 10)
	if len(b) == 4 {
		return netip.AddrFrom4([4]byte(b)).String() + ":" + ps
	}
	return "[" + netip.AddrFrom16([16]byte(b)).String() + "]:" + ps
}
