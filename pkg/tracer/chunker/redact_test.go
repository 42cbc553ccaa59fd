package chunker

import (
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`read(23<TCP:[10.62.3.2:8080->10.62.3.1:41000]>, "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWRtaW46c2VjcmV0\r\nX-Call-Id: abc\r\n"..., 256) = 300`,
			`read(23<TCP:[10.62.3.2:8080->10.62.3.1:41000]>, "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: ***** ****************\r\nX-Call-Id: abc\r\n"..., 256) = 300`},
		{"GET / HTTP/1.1\r\ncookie: session=1234\r\nX-Call-Id: q\r\n\r\n", "GET / HTTP/1.1\r\ncookie: ************\r\nX-Call-Id: q\r\n\r\n"},
		{`write(1, "x-api-key: k123", 15) = 15`, `write(1, "x-api-key: ****", 15) = 15`},
		// Not a header: a body that mentions the word.
		{`write(5, "my authorization: none", 22) = 22`, `write(5, "my authorization: none", 22) = 22`},
		{`openat(AT_FDCWD, "/etc/hosts", O_RDONLY) = 3`, `openat(AT_FDCWD, "/etc/hosts", O_RDONLY) = 3`},
	} {
		b := []byte(tc.in)
		Redact(b)
		if string(b) != tc.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tc.in, b, tc.want)
		}
		if strings.Contains(string(b), "YWRtaW46") {
			t.Error("credential left in place")
		}
	}
}

func FuzzRedact(f *testing.F) {
	f.Add([]byte("Authorization: Basic abc\r\n"))
	f.Add([]byte(`"\nCookie: a=b\"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := len(b)
		Redact(b)
		if len(b) != n {
			t.Fatal("length changed")
		}
	})
}
