package localstack

import (
	"bytes"
	"os"
	"testing"

	"github.com/faasmon/faasmon/pkg/hopauth"
)

func TestEnsureHopKey(t *testing.T) {
	d := Dirs{State: t.TempDir()}
	first, err := EnsureHopKey(d)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := hopauth.ParseKeys(first)
	if err != nil || kr.CurrentID() != "local-1" {
		t.Fatalf("generated key %q: %v", first, err)
	}
	if fi, err := os.Stat(d.HopKeyFile()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v, want mode 0600", fi, err)
	}
	again, err := EnsureHopKey(d)
	if err != nil || !bytes.Equal(first, again) {
		t.Errorf("second call changed the key (%v)", err)
	}
	if err := os.WriteFile(d.HopKeyFile(), []byte("broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnsureHopKey(d); err == nil {
		t.Error("a corrupt key file was accepted")
	}
}
