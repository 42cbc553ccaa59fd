package invariant

import "testing"

func TestWatched(t *testing.T) {
	for _, c := range []struct {
		path, label string
		want        bool
	}{
		{"/etc/shadow", "/etc/shadow", true},
		{"/root/.ssh/id_rsa", "/root/.ssh/id_rsa", true},
		{"/home/app/.ssh/authorized_keys", "$FUNC/.ssh/authorized_keys", true},
		{"/var/log/auth.log", "/var/log/auth.log", true},
		{"/proc/42/environ", "/proc/N/environ", true},
		{"/home/app/handler.js", "$FUNC/handler.js", true},
		{"/tmp/w17", "/tmp/w17", false},
		{"/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/UTC", false},
		{"/home/app/data/photo.jpg", "$FUNC/data/photo.jpg", false},
		{"", "", false},
	} {
		if got := Watched(c.path, c.label); got != c.want {
			t.Errorf("Watched(%q, %q) = %v, want %v", c.path, c.label, got, c.want)
		}
	}
}
