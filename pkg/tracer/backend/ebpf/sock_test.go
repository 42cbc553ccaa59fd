package ebpf

import (
	"net"
	"os"
	"testing"
)

func TestProcAddr(t *testing.T) {
	for in, want := range map[string]string{
		"0100007F:1F90":                         "127.0.0.1:8080",
		"0000000000000000FFFF0000023E3E0A:1F90": "[::ffff:10.62.62.2]:8080",
		"00000000000000000000000001000000:0050": "[::1]:80",
		"zz:1":                                  "",
		"0100007F":                              "",
	} {
		if got := procAddr(in); got != want {
			t.Errorf("procAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestSocketOf: /proc names both ends of a live connection, and tells the
// accepted side (its local port is listened on) from the dialling one.
func TestSocketOf(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	in, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	fdOf := func(c net.Conn) int {
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return int(f.Fd())
	}
	si, ok := socketOf("/proc", os.Getpid(), fdOf(in))
	if !ok || si.local != ln.Addr().String() || si.remote != out.LocalAddr().String() || !si.inbound {
		t.Errorf("accepted side: %+v %v", si, ok)
	}
	so, ok := socketOf("/proc", os.Getpid(), fdOf(out))
	if !ok || so.remote != ln.Addr().String() || so.inbound {
		t.Errorf("dialling side: %+v %v", so, ok)
	}
	if _, ok := socketOf("/proc", os.Getpid(), 0); ok {
		t.Error("stdin named as a TCP socket")
	}
}
