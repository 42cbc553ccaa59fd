package strace

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestScrubLine runs lines through a Scrubber that has seen the setup
// lines first (listen/accept teach it the listening ports; an unfinished
// call its fd). Lines marked with a file name are copied from testdata.
func TestScrubLine(t *testing.T) {
	cases := []struct {
		name   string
		ports  []int
		setup  []string
		line   string
		want   string
		absent []string // must not be in the output
	}{
		{
			name:  "inbound request keeps request line and X-Call-Id only node.strace",
			setup: []string{`8716  1795430151.254144 accept4(19<TCP:[127.0.0.1:18931]>, NULL, NULL, SOCK_CLOEXEC|SOCK_NONBLOCK) = 20<TCP:[127.0.0.1:18931->127.0.0.1:34732]>`},
			line:  `8716  1795430151.258892 read(20<TCP:[127.0.0.1:18931->127.0.0.1:34732]>, "POST / HTTP/1.1\r\nHost: 127.0.0.1:18931\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\nX-Call-Id: 9f1c2e4a-node-0001\r\nContent-Length: 7\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\n{\"n\":1}", 65536) = 186`,
			want:  `8716  1795430151.258892 read(20<TCP:[127.0.0.1:18931->127.0.0.1:34732]>, "POST / HTTP/1.1\r\nX-Call-Id: 9f1c2e4a-node-0001\r\n"..., 65536) = 186`,
		},
		{
			name: "response written: data dropped node.strace",
			line: `8716  1795430151.329368 writev(20<TCP:[127.0.0.1:18931->127.0.0.1:34732]>, [{iov_base="HTTP/1.1 200 OK\r\nX-Call-Id: 9f1c2e4a-node-0001\r\nDate: Mon, 23 Nov 2026 10:35:51 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 28\r\n\r\nok child 9f1c2e4a-node-0001\n", iov_len=182}, {iov_base="", iov_len=0}], 2) = 182`,
			want: `8716  1795430151.329368 writev(20<TCP:[127.0.0.1:18931->127.0.0.1:34732]>, [{iov_base=""..., iov_len=182}, {iov_base=""..., iov_len=0}], 2) = 182`,
		},
		{
			name:  "read on an outbound connection (port not listened on): no call id kept",
			ports: []int{8080},
			line:  `5 1.5 read(3<TCP:[10.0.0.2:40000->10.0.0.9:80]>, "HTTP/1.1 200 OK\r\nX-Call-Id: forged\r\n\r\n", 4096) = 38`,
			want:  `5 1.5 read(3<TCP:[10.0.0.2:40000->10.0.0.9:80]>, ""..., 4096) = 38`,
		},
		{
			name:   "request line: query secrets and URL password masked; headers with tokens dropped",
			ports:  []int{8080},
			line:   `5 1.5 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "GET /x?q=1&password=hunter2&api_key=K1 HTTP/1.1\r\nAuthorization: Bearer T0K\r\nX-Vault-Token: s.V4ULT\r\nX-Call-Id: c-1\r\n\r\n", 4096) = 100`,
			want:   `5 1.5 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "GET /x?q=1&password=***&api_key=*** HTTP/1.1\r\nX-Call-Id: c-1\r\n"..., 4096) = 100`,
			absent: []string{"hunter2", "K1 ", "T0K", "V4ULT"},
		},
		{
			name:  "X-Call-Id in the next read of the same connection (head over 4 KiB)",
			ports: []int{8080},
			setup: []string{`5 1.5 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "GET /long HTTP/1.1\r\nCookie: a=SECRET\r\nX-Pad: aaaa", 4096) = 4096`},
			line:  `5 1.6 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "aaaa\r\nX-Call-Id: late-1\r\n\r\n{\"password\":\"p\"}", 4096) = 44`,
			want:  `5 1.6 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "X-Call-Id: late-1\r\n"..., 4096) = 44`,
		},
		{
			// Lines from a capture of a Go net/http server (sbench, see
			// sensor.StraceSnap): its background 1-byte read takes the "P".
			name:  "Go server: request line split by the 1-byte background read",
			ports: []int{38259},
			setup: []string{`11231 1796159551.232400 read(6<TCP:[127.0.0.1:38259->127.0.0.1:58434]>, "P", 1) = 1`},
			line:  `11234 1796159551.232488 read(6<TCP:[127.0.0.1:38259->127.0.0.1:58434]>, "OST /fn?x=1 HTTP/1.1\r\nHost: 127.0.0.1:38259\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: 3\r\nX-Call-Id: call-5\r\nAccept-Encoding: gzip\r\n\r\nabc", 4096) = 123`,
			want:  `11234 1796159551.232488 read(6<TCP:[127.0.0.1:38259->127.0.0.1:58434]>, "POST /fn?x=1 HTTP/1.1\r\nX-Call-Id: call-5\r\n"..., 4096) = 123`,
		},
		{
			name:  "a header value cut at the read boundary does not forge a call id",
			ports: []int{8080},
			setup: []string{`5 1.5 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "GET / HTTP/1.1\r\nX-Pad: aaaa", 4096) = 4096`},
			line:  `5 1.6 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "X-Call-Id: evil\r\nX-Call-Id: real\r\n\r\n", 4096) = 40`,
			want:  `5 1.6 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "X-Call-Id: real\r\n"..., 4096) = 40`,
		},
		{
			name:  "head cut by strace: the body is not searched",
			ports: []int{8080},
			setup: []string{`5 1.5 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "POST / HTTP/1.1\r\nX-Pad: aaaa"..., 65536) = 30000`},
			line:  `5 1.6 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "x\r\nX-Call-Id: from-body\r\n", 65536) = 25`,
			want:  `5 1.6 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, ""..., 65536) = 25`,
		},
		{
			name:  "resumed read takes the fd of its unfinished half",
			ports: []int{8080},
			setup: []string{`[pid  9] 1.5 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>,  <unfinished ...>`},
			line:  `[pid  9] 1.6 <... read resumed>"GET / HTTP/1.1\r\nX-Call-Id: r-1\r\nPrivate-Token: PT\r\n\r\n", 4096) = 60`,
			want:  `[pid  9] 1.6 <... read resumed>"GET / HTTP/1.1\r\nX-Call-Id: r-1\r\n"..., 4096) = 60`,
		},
		{
			name: "malformed resumed line: its strings dropped all the same",
			line: `7 1.0 <... read resumed "s3cr3t", 4096) = 6`,
			want: `7 1.0 <... read resumed ""..., 4096) = 6`,
		},
		{
			name: "rest of a call after an embedded strace message: strings dropped",
			line: `"s3cr3t", 4096) = 6`,
			want: `""..., 4096) = 6`,
		},
		{
			name: "secret file read: data dropped",
			line: `7 1.0 read(3</run/secrets/db-password>, "s3cr3t-db\n", 4096) = 10`,
			want: `7 1.0 read(3</run/secrets/db-password>, ""..., 4096) = 10`,
		},
		{
			name: "environ read: data dropped",
			line: `7 1.0 read(3</proc/1/environ>, "PATH=/usr/bin\0AWS_SECRET_ACCESS_KEY=abc\0"..., 4096) = 4096`,
			want: `7 1.0 read(3</proc/1/environ>, ""..., 4096) = 4096`,
		},
		{
			name: "DNS query kept (sendto port 53)",
			line: `7 1.0 sendto(3<UDP:[10.0.0.2:5353->10.0.0.10:53]>, "\22\64\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\1\0\1", 29, MSG_NOSIGNAL, NULL, 0) = 29`,
			want: `7 1.0 sendto(3<UDP:[10.0.0.2:5353->10.0.0.10:53]>, "\22\64\1\0\0\1\0\0\0\0\0\0\7example\3com\0\0\1\0\1", 29, MSG_NOSIGNAL, NULL, 0) = 29`,
		},
		{
			name: "sun_path kept, iov data dropped",
			line: `7 1.0 sendmsg(3<UNIX-DGRAM:[1]>, {msg_name={sa_family=AF_UNIX, sun_path="/dev/log"}, msg_namelen=110, msg_iov=[{iov_base="<13>login password=x", iov_len=20}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_NOSIGNAL) = 20`,
			want: `7 1.0 sendmsg(3<UNIX-DGRAM:[1]>, {msg_name={sa_family=AF_UNIX, sun_path="/dev/log"}, msg_namelen=110, msg_iov=[{iov_base=""..., iov_len=20}], msg_iovlen=1, msg_controllen=0, msg_flags=0}, MSG_NOSIGNAL) = 20`,
		},
		{
			name:   "execve curl -u, URL password, token header, JSON password",
			line:   `9 1.0 execve("/usr/bin/curl", ["curl", "-u", "admin:PW1", "-H", "X-Amz-Security-Token: AMZ", "-d", "{\"password\": \"PW2\"}", "https://bob:PW3@example.com/?token=PW4"], 0x5581a8b5b0e8 /* 35 vars */) = 0`,
			want:   `9 1.0 execve("/usr/bin/curl", ["curl", "-u", "admin:***", "-H", "X-Amz-Security-Token: ***", "-d", "{\"password\": \"***\"}", "https://bob:***@example.com/?token=***"], 0x5581a8b5b0e8 /* 35 vars */) = 0`,
			absent: []string{"PW1", "AMZ", "PW2", "PW3", "PW4"},
		},
		{
			name: "execve in sh -c: every rule inside one string; truncated element keeps its ...",
			line: `9 1.0 execve("/bin/sh", ["sh", "-c", "curl -uroot:PW5 --password=PW6 -H 'Authorization: Basic PW7' http://x/"..., "--token", "PW8"], 0x1 /* 3 vars */) = 0`,
			want: `9 1.0 execve("/bin/sh", ["sh", "-c", "curl -uroot:*** --password=*** -H 'Authorization: ***' http://x/"..., "--token", "***"], 0x1 /* 3 vars */) = 0`,
		},
		{
			name: "mount data dropped (cifs password)",
			line: `9 1.0 mount("//srv/share", "/mnt", "cifs", 0, "username=u,password=PW9") = -1 EPERM (Operation not permitted)`,
			want: `9 1.0 mount("//srv/share", "/mnt", "cifs", 0, ""...) = -1 EPERM (Operation not permitted)`,
		},
		{
			name: "path-only calls unchanged secsys-unpriv.strace",
			line: `18206 1796158453.700981 link("/etc/shadow", "work/shadow-link") = -1 EPERM (Operation not permitted)`,
			want: `18206 1796158453.700981 link("/etc/shadow", "work/shadow-link") = -1 EPERM (Operation not permitted)`,
		},
		{
			name: "capset shifts unchanged",
			line: `18206 1796158453.773706 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_SYS_ADMIN, permitted=1<<CAP_SYS_ADMIN, inheritable=0}) = -1 EPERM (Operation not permitted)`,
			want: `18206 1796158453.773706 capset({version=_LINUX_CAPABILITY_VERSION_3, pid=0}, {effective=1<<CAP_SYS_ADMIN, permitted=1<<CAP_SYS_ADMIN, inheritable=0}) = -1 EPERM (Operation not permitted)`,
		},
		{
			name: "a file mapped executable is kept libload (pkg/classify/invariant/testdata)",
			line: "15558 1796168103.128981 mmap(0x7f62dd1f9000, 475136, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3</tmp/faasmon-inv/libx.so>, 0x10000) = 0x7f62dd1f9000\n",
			want: "15558 1796168103.128981 mmap(0x7f62dd1f9000, 475136, PROT_READ|PROT_EXEC, MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE, 3</tmp/faasmon-inv/libx.so>, 0x10000) = 0x7f62dd1f9000\n",
		},
		{
			name: "a file mapped for reading is dropped whole, newline too libload",
			line: "15558 1796168103.128951 mmap(NULL, 913680, PROT_READ, MAP_PRIVATE|MAP_DENYWRITE, 3</tmp/faasmon-inv/libx.so>, 0) = 0x7f62dd1e9000\n",
			want: "",
		},
		{
			name: "an anonymous executable map (a JIT's) is dropped",
			line: "9 1.0 mmap(NULL, 262144, PROT_READ|PROT_WRITE|PROT_EXEC, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f0000000000\n",
			want: "",
		},
		{
			name: "a refused executable map is kept (an attempt)",
			line: "9 1.0 mmap(NULL, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE, 3</dev/shm/x>, 0) = -1 EPERM (Operation not permitted)\n",
			want: "9 1.0 mmap(NULL, 4096, PROT_READ|PROT_EXEC, MAP_PRIVATE, 3</dev/shm/x>, 0) = -1 EPERM (Operation not permitted)\n",
		},
		{
			name: "line cut by the tracer inside a string keeps marker and newline",
			line: "7 1.0 write(1</tmp/out>, \"secret secret secret <faasmon:truncated>\n",
			want: "7 1.0 write(1</tmp/out>, \"\"... <faasmon:truncated>\n",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewScrubber()
			for _, p := range c.ports {
				s.AddListenPort(p)
			}
			for _, l := range c.setup {
				s.Line(nil, []byte(l))
			}
			got := string(s.Line(nil, []byte(c.line)))
			if got != c.want {
				t.Errorf("\ngot  %s\nwant %s", got, c.want)
			}
			for _, a := range c.absent {
				if strings.Contains(got, a) {
					t.Errorf("%q left in %s", a, got)
				}
			}
			// What is left must still parse, when the line did.
			_, _, rawErr := NewParser().ParseLine([]byte(c.line), 1)
			if got == "" {
				return // dropped whole
			}
			if _, _, err := NewParser().ParseLine([]byte(got), 1); err != nil && rawErr == nil {
				t.Errorf("scrubbed line does not parse: %v", err)
			}
		})
	}
}

// TestScrubTestdataSameEvents: the parser finds the call id in what the
// scrubber keeps, and the events of every scrubbed capture equal those of
// the raw one apart from masked argv.
func TestScrubTestdataSameEvents(t *testing.T) {
	for _, f := range testdataFiles(t) {
		raw := readFile(t, f)
		s := NewScrubber()
		var out bytes.Buffer
		for _, l := range bytes.SplitAfter(raw, []byte("\n")) {
			if len(l) > 0 {
				out.Write(s.Line(nil, l))
			}
		}
		a, _, ua := ParseBytes(raw, -1)
		b, errs, ub := ParseBytes(out.Bytes(), -1)
		if ua != ub || len(a) != len(b) {
			t.Errorf("%s: %d events/%d unparsed raw, %d/%d scrubbed (%v)", f, len(a), ua, len(b), ub, errs)
			continue
		}
		calls := 0
		for i := range a {
			x, y := a[i], b[i]
			if y.CallID != "" {
				calls++
				if y.CallID != x.CallID {
					t.Errorf("%s event %d: call id %q, raw %q", f, i, y.CallID, x.CallID)
				}
			}
			x.CallID, y.CallID = "", ""
			// Argv may differ only where a credential was masked.
			if !eventEqual(x, y) || !slices.Equal(ScrubArgv(x.Argv), y.Argv) {
				t.Errorf("%s event %d:\nraw      %+v\nscrubbed %+v", f, i, x, y)
			}
		}
		// Calls the raw parse found on inbound reads survive (node*.strace,
		// attach.strace and go.strace serve requests).
		if strings.Contains(f, "node") && calls == 0 {
			t.Errorf("%s: no call id left after scrubbing", f)
		}
	}
}

func TestScrubArgv(t *testing.T) {
	for _, c := range []struct{ in, want []string }{
		{[]string{"curl", "--user", "u:p1"}, []string{"curl", "--user", "u:***"}},
		{[]string{"mysql", "--password", "p2", "-h", "db"}, []string{"mysql", "--password", "***", "-h", "db"}},
		{[]string{"env", "DB_PASSWORD=p3", "app"}, []string{"env", "DB_PASSWORD=***", "app"}},
		{[]string{"/usr/bin/env", "-i", "HOME=/h", "app", "X=1"}, []string{"/usr/bin/env", "-i", "HOME=***", "app", "X=1"}},
		{[]string{"wget", "https://s3.amazonaws.com/b/k?X-Amz-Signature=p4&X-Amz-Credential=AKIA1"}, []string{"wget", "https://s3.amazonaws.com/b/k?X-Amz-Signature=***&X-Amz-Credential=***"}},
		{[]string{"git", "clone", "https://oauth2:p5@gitlab.com/x.git"}, []string{"git", "clone", "https://oauth2:***@gitlab.com/x.git"}},
		{[]string{"curl", "-H", "Cookie: sid=p6"}, []string{"curl", "-H", "Cookie: ***"}},
		// Nothing secret: unchanged.
		{[]string{"python3", "index.py", "-p", "8080", "http://x:80/a?q=1"}, []string{"python3", "index.py", "-p", "8080", "http://x:80/a?q=1"}},
	} {
		if got := ScrubArgv(c.in); !slices.Equal(got, c.want) {
			t.Errorf("ScrubArgv(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

// FuzzScrubLine: any line, after a setup that makes port 8080 inbound:
// no panic, bounded output, and data planted in a read of a file or a
// write to a socket never survives.
func FuzzScrubLine(f *testing.F) {
	for _, name := range testdataFiles(f) {
		for i, l := range bytes.Split(readFile(f, name), []byte("\n")) {
			if i%4 == 0 && i < 400 {
				f.Add(l, []byte("planted-secret"))
			}
		}
	}
	f.Add([]byte(`5 1.5 read(7<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, "GET /?password=x HTTP/1.1\r\nX-Call-Id: a\r\n", 9) = 9`), []byte("s3cr3tvalue"))
	f.Add([]byte(`9 1.0 execve("/bin/sh", ["sh", "-c", "curl -u a:b"], 0x1 /* 3 vars */) = 0`), []byte("hunter2hunter2"))
	f.Fuzz(func(t *testing.T, line, secret []byte) {
		s := NewScrubber()
		s.AddListenPort(8080)
		out := s.Line(nil, line)
		if len(out) > 4*len(line)+maxKeptHead+64 {
			t.Fatalf("output %d bytes from %d", len(out), len(line))
		}
		// The same scrubber keeps state across lines: a resumed half next.
		s.Line(nil, append([]byte("5 1.6 <... read resumed>"), line...))
		if len(secret) < 8 || bytes.ContainsAny(secret, "\"\\\n") {
			return
		}
		q := quote(nil, secret)
		for _, tmpl := range []string{
			`7 1.0 read(3</run/secrets/k>, %s, 4096) = 10`,
			`7 1.0 write(3<TCP:[10.0.0.2:40000->10.0.0.9:443]>, %s..., 4096) = 4096`,
			`7 1.0 read(3<TCP:[10.0.0.2:8080->10.0.0.1:5000]>, %s, 4096) = 10`,
			`7 1.0 recvmsg(3<UNIX-STREAM:[1->2]>, {msg_name=NULL, msg_iov=[{iov_base=%s, iov_len=10}]}, 0) = 10`,
		} {
			l := []byte(strings.Replace(tmpl, "%s", string(q), 1))
			got := s.Line(nil, l)
			if bytes.Contains(got, q) && !bytes.Contains([]byte(tmpl), secret) {
				t.Fatalf("secret %q survived in %s", secret, got)
			}
		}
	})
}

// FuzzScrubArgv: a credential planted after -u, --password= or in a URL's
// user:pw@ never survives, whatever surrounds it.
func FuzzScrubArgv(f *testing.F) {
	f.Add("curl", "https://x/", "Zq9Zq9Zq9")
	f.Fuzz(func(t *testing.T, a, b, secret string) {
		if len(secret) < 6 || strings.ContainsAny(secret, " \t\r\n'\"@:/&=;?") || strings.Contains(a+b, secret) {
			return
		}
		for _, argv := range [][]string{
			{a, "-u", "user:" + secret, b},
			{a, "--password=" + secret, b},
			{a, "--password", secret, b},
			{a, "https://user:" + secret + "@host/", b},
			{a, "http://h/?x=1&token=" + secret, b},
			{a, "-H", "Authorization: Bearer " + secret, b},
			{"sh", "-c", a + " -u user:" + secret + " " + b},
		} {
			for _, v := range ScrubArgv(argv) {
				if strings.Contains(v, secret) {
					t.Fatalf("secret %q survived in %q (argv %q)", secret, v, argv)
				}
			}
		}
	})
}
