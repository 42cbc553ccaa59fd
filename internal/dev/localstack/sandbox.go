package localstack

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// Inside its mount namespace a function sees the same paths as in the
// official OpenFaaS images: its private copy at /home/app (WORKDIR and HOME
// of the templates) and its secrets at /var/openfaas/secrets.
const (
	FunctionHome    = "/home/app"
	FunctionSecrets = "/var/openfaas/secrets"
	FunctionPort    = 8080
	functionUser    = "app"
)

// sandboxUser is the unprivileged account functions run as.
type sandboxUser struct {
	Name     string
	UID, GID int
}

// ensureSandboxUser makes the system user "app" (as the official templates
// use) when missing, falling back to nobody, and the two mount points that
// the sandbox binds over. Both mount points stay empty on the host.
func ensureSandboxUser() (sandboxUser, error) {
	u, err := user.Lookup(functionUser)
	if err != nil {
		out, aerr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", FunctionHome, "--shell", "/usr/sbin/nologin", functionUser).CombinedOutput()
		if aerr == nil {
			u, err = user.Lookup(functionUser)
		} else {
			err = fmt.Errorf("useradd %s: %w: %s", functionUser, aerr, bytes.TrimSpace(out))
		}
	}
	if err != nil {
		var nerr error
		if u, nerr = user.Lookup("nobody"); nerr != nil {
			return sandboxUser{}, fmt.Errorf("no user to run functions as: %w; nobody: %v", err, nerr)
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return sandboxUser{}, fmt.Errorf("refusing to run functions as uid 0 (%s)", u.Username)
	}
	for _, dir := range []string{FunctionHome, FunctionSecrets} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return sandboxUser{}, fmt.Errorf("create mount point %s: %w", dir, err)
		}
	}
	return sandboxUser{Name: u.Username, UID: uid, GID: gid}, nil
}

// sandboxScript runs as root inside `ip netns exec` (which already gave it
// a new mount namespace, slave to the host's, so nothing here propagates
// back). It binds the private copy and the secrets, mounts a fresh /tmp last
// (the sources live under the state dir in /tmp), drops to the function
// user with no capabilities and execs fprocess, so the pid we started is the
// handler's own pid.
const sandboxScript = `set -e
home=$1; secrets=$2; user=$3; shift 3
mount --make-rslave /
mount --bind "$home" ` + FunctionHome + `
mount --bind "$secrets" ` + FunctionSecrets + `
mount -o remount,bind,ro,nosuid,nodev,noexec ` + FunctionSecrets + `
mount -t tmpfs -o mode=1777,nosuid,nodev,size=256m faasmon-tmp /tmp
cd ` + FunctionHome + ` && unset OLDPWD
exec setpriv --reuid="$user" --regid="$user" --init-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- "$@"
`

// sandboxCommand is the argv that starts fprocess for one instance.
func sandboxCommand(ns, home, secrets string, u sandboxUser, fprocess []string) []string {
	args := []string{"ip", "netns", "exec", ns, "/bin/sh", "-c", sandboxScript, "faasmon-sandbox", home, secrets, u.Name}
	return append(args, fprocess...)
}

// functionEnv is the process environment of a function: a clean base like
// an image's, then the deployment's env vars, with port/fprocess last so a
// stack cannot move the function off the port the proxy dials.
func functionEnv(dep map[string]string, fprocess string) []string {
	env := map[string]string{
		"PATH":     "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME":     FunctionHome,
		"LANG":     "C.UTF-8",
		"NODE_ENV": "production",
	}
	for k, v := range dep {
		env[k] = v
	}
	env["port"] = strconv.Itoa(FunctionPort)
	env["http_port"] = strconv.Itoa(FunctionPort)
	env["fprocess"] = fprocess
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	return out
}

// copyTree copies src into dst (which must not exist) keeping modes and
// symlinks, and chowns everything to uid:gid: the function may rewrite its
// copy, as a payload would in a container, but never the artefact.
func copyTree(src, dst string, uid, gid int) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, info.Mode().Perm()|0o700); err != nil {
				return err
			}
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		case info.Mode().IsRegular():
			if err := copyFile(path, target, info.Mode().Perm()); err != nil {
				return err
			}
		default:
			return nil // sockets, devices: never part of an artefact
		}
		return os.Lchown(target, uid, gid)
	})
}

func copyFile(src, dst string, mode fs.FileMode) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, mode)
}

// splitFProcess splits an fprocess line on spaces, as of-watchdog does.
func splitFProcess(s string) []string { return strings.Fields(s) }
