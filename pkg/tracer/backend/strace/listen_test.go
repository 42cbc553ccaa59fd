package strace

import (
	"net"
	"os"
	"slices"
	"testing"
)

func TestParseListen(t *testing.T) {
	// Rows from this machine's /proc/net/tcp: a listener on 8080, an
	// established connection from it, and a listener on 127.0.0.1:4222.
	data := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 31338 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:107E 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31339 1 0000000000000000 100 0 0 10 0
garbage
`)
	if got, want := parseListen(data), []int{8080, 4222}; !slices.Equal(got, want) {
		t.Errorf("parseListen = %v, want %v", got, want)
	}
}

// TestListenPortsLive opens a real listener and finds it in /proc.
func TestListenPortsLive(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		t.Skip("no /proc/self/net/tcp")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if got := ListenPorts("/proc", os.Getpid()); !slices.Contains(got, port) {
		t.Errorf("ListenPorts = %v, want it to contain %d", got, port)
	}
}
