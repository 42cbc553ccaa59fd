package ebpf

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRequestHeadCallID: the X-Call-Id of a request a process receives on
// a connection it accepted is on the read's event (the kernel copies a
// read's data only when it starts with an HTTP method), and the same head
// read from a file names no invocation.
func TestRequestHeadCallID(t *testing.T) {
	loadOrSkip(t)
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("needs python3")
	}
	b := loadedBackend(t)
	dir, cg := newCgroup(t)
	fake := filepath.Join(t.TempDir(), "fake-request")
	if err := os.WriteFile(fake, []byte("GET / HTTP/1.1\r\nX-Call-Id: from-a-file\r\n\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := b.AttachCgroup(ctx, cg, 1<<16)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cgf, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer cgf.Close()
	py := fmt.Sprintf(`import socket
open(%q).read()
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", %d)); s.listen(1)
print("up", flush=True)
c, _ = s.accept()
c.recv(65536)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
c.close()
`, fake, port)
	cmd := exec.Command("python3", "-c", py)
	cmd.SysProcAttr = &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: int(cgf.Fd())}
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a process in a cgroup: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	buf := make([]byte, 3)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST /fn HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nX-Call-Id: cid-42\r\nContent-Length: 4\r\n\r\nbody")
	resp := make([]byte, 64)
	_, _ = c.Read(resp)
	c.Close()
	var ids []string
	sawFile := false
	deadline := time.AfterFunc(10*time.Second, func() { s.Close() })
	defer deadline.Stop()
	for len(ids) == 0 {
		ev, err := s.NextEvent()
		if err != nil {
			t.Fatalf("stream ended without the request's call id: %v", err)
		}
		if ev.CallID != "" {
			ids = append(ids, ev.CallID)
			if ev.Syscall != "recvfrom" && ev.Syscall != "read" {
				t.Errorf("call id on %s", ev.Syscall)
			}
		}
		if ev.Syscall == "read" && strings.HasSuffix(ev.Path, "fake-request") {
			sawFile = true
		}
	}
	if ids[0] != "cid-42" {
		t.Errorf("call ids %v, want cid-42 (not the file's)", ids)
	}
	if !sawFile {
		t.Log("the file's read was not seen before the request (its fd named otherwise)")
	}
}

func TestRequestCallIDParse(t *testing.T) {
	for _, tc := range []struct{ head, want string }{
		{"GET / HTTP/1.1\r\nX-Call-Id: abc\r\n\r\n", "abc"},
		{"POST /x HTTP/1.1\r\nHost: h\r\nx-call-id:  u-1 \r\n\r\nX-Call-Id: body", "u-1"},
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\nX-Call-Id: in-body\r\n", ""},
		{"HTTP/1.1 200 OK\r\nX-Call-Id: resp\r\n\r\n", ""},
		{"GET / HTTP/1.1\r\nX-Call-Id: cut-in-the-mid", ""},
		{"GET / HTTP/1.1\r\nX-Call-Id: a b\r\n\r\n", ""},
		{"GET / HTTP/1.1\r\nX-Call-Id: " + strings.Repeat("x", maxCallID+1) + "\r\n\r\n", ""},
		{"", ""},
	} {
		if got := requestCallID([]byte(tc.head)); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.head, got, tc.want)
		}
	}
}

func FuzzRequestCallID(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nX-Call-Id: abc\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		id := requestCallID(b)
		if len(id) > maxCallID || strings.ContainsAny(id, " \r\n\t") {
			t.Fatalf("%q from %q", id, b)
		}
	})
}
