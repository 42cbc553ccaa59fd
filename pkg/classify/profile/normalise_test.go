package profile

import "testing"

func TestPathTemplate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/tmp/photos/shot-58035.jpg", "/tmp/photos/shot-N.jpg"},
		{"/tmp/photos/shot-7.jpg", "/tmp/photos/shot-N.jpg"},
		{"/usr/bin/python3", "/usr/bin/python3"},
		{"/usr/bin/sha256sum", "/usr/bin/sha256sum"},
		{"/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_N-linux-gnu/libc.so.N"},
		{"/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_N-linux-gnu/libz.so.N"}, // merged /usr: one name
		{"/bin/sh", "/usr/bin/sh"},
		{"/library/x", "/library/x"},
		{"/proc/N/environ", "/proc/N/environ"},
		{"$FUNC/function/convert-sim.sh", "$FUNC/function/convert-sim.sh"},
		{"/tmp/job-1a2b3c4d-4b1e-4c2a-9f3d-5e6f7a8b9c0d/out", "/tmp/job-UUID/out"},
		{"/sys/fs/cgroup/af1f521b87f5/memory.max", "/sys/fs/cgroup/H/memory.max"},
		{"/tmp/tmpa8x7kq2z", "/tmp/R"},             // Python's tempfile
		{"/tmp/tmp.Kq3ZxA9bLm", "/tmp/tmp.R"},      // mktemp
		{"/tmp/deadbeef.txt", "/tmp/deadbeef.txt"}, // a word, not a hash
		{"/home/app/node_modules/express/lib/router/index.js", "/home/app/node_modules/express/lib/router/index.js"},
		{"/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys"},
		{"relative/p-1003.json", "relative/p-N.json"},
		{"", ""},
	} {
		if got := PathTemplate(tc.in); got != tc.want {
			t.Errorf("PathTemplate(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestArgvShape(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"sh /home/app/function/convert-sim.sh --to png /tmp/photos/shot-58035.jpg /tmp/photos/shot-58035.converted",
			"sh /home/app/function/convert-sim.sh --to png /tmp/photos/shot-N.jpg /tmp/photos/shot-N.converted"},
		{"curl -s -m 2 telnet://10.66.0.2:4444", "curl -s -m N telnet://N.N.N.N:N"},
		{"node index.js", "node index.js"},
		{"sleep 30", "sleep N"},
	} {
		if got := ArgvShape(tc.in); got != tc.want {
			t.Errorf("ArgvShape(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRequestTemplate(t *testing.T) {
	for _, tc := range []struct {
		method, host, path string
		out                bool
		want               string
	}{
		{"post", "", "/", false, "POST /"},
		{"GET", "", "/items/123?token=s3cret", false, "GET /items/N"},
		{"GET", "API.Supplier.test", "/v2/orders/9f1c2e4a-1b2c-4d3e-8f90-0123456789ab", true, "out GET api.supplier.test/v2/orders/UUID"},
		{"G\x00T", "", "/", false, "? /"},
	} {
		if got := RequestTemplate(tc.method, tc.host, tc.path, tc.out); got != tc.want {
			t.Errorf("RequestTemplate(%q, %q, %q) = %q, want %q", tc.method, tc.host, tc.path, got, tc.want)
		}
	}
}
