package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Every network namespace and host-side veth the stack makes carries one of
// these prefixes, so that down can find and remove all of them (and only
// them) even after the provider crashed.
const (
	NetnsPrefix  = "faasmon-"
	HostIfPrefix = "fmh"
	netnsRunDir  = "/run/netns"
	netnsEtcDir  = "/etc/netns"
	maxSlot      = 250
)

// netSlot is one function instance's network: namespace faasmon-N, veth
// fmhN (host, 10.62.N.1/24) ↔ fmcN (function, 10.62.N.2/24), default route
// via the host side. It is what a pod's network is on a node.
type netSlot struct {
	N      int
	NS     string
	HostIf string
	FnIf   string
	HostIP string
	FnIP   string
}

func slotFor(n int) netSlot {
	return netSlot{
		N:      n,
		NS:     NetnsPrefix + strconv.Itoa(n),
		HostIf: HostIfPrefix + strconv.Itoa(n),
		FnIf:   "fmc" + strconv.Itoa(n),
		HostIP: fmt.Sprintf("10.62.%d.1", n),
		FnIP:   fmt.Sprintf("10.62.%d.2", n),
	}
}

func (s netSlot) Path() string { return filepath.Join(netnsRunDir, s.NS) }

// setup creates the namespace, the veth pair and the routes, plus an
// /etc/netns/<ns>/hosts that `ip netns exec` binds over /etc/hosts, so a
// function reaches the gateway as gateway.openfaas:8080 (and NATS as
// nats.openfaas:4222) as in a cluster.
func (s netSlot) setup(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			_ = s.teardown()
		}
	}()
	if err := (Veth{NS: s.NS, HostIf: s.HostIf, PeerIf: s.FnIf, HostIP: s.HostIP, IP: s.FnIP}).Connect(ctx); err != nil {
		return err
	}
	etc := filepath.Join(netnsEtcDir, s.NS)
	if err := os.MkdirAll(etc, 0o755); err != nil {
		return fmt.Errorf("netns %s: %w", s.NS, err)
	}
	// NATS listens on the host too: nats.openfaas resolves as in a cluster,
	// so stack files need no local-only NATS address.
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost\n%s\tfaasmon-instance\n%s\tgateway.openfaas gateway.openfaas.svc.cluster.local gateway nats.openfaas nats.openfaas.svc.cluster.local\n", s.FnIP, s.HostIP)
	if err := os.WriteFile(filepath.Join(etc, "hosts"), []byte(hosts), 0o644); err != nil {
		return fmt.Errorf("netns %s: hosts: %w", s.NS, err)
	}
	return nil
}

// teardown kills whatever still runs in the namespace (a payload may have
// forked and detached), then deletes the namespace, the host veth and the
// hosts file. Missing pieces are fine: teardown is also the crash sweeper.
func (s netSlot) teardown() error {
	var errs []error
	if pids, err := pidsInNetns(s.Path()); err == nil {
		killAll(pids, time.Second)
	}
	if _, err := os.Stat(s.Path()); err == nil {
		if err := RunIP(context.Background(), "netns", "delete", s.NS); err != nil {
			errs = append(errs, err)
		}
	}
	// Deleting the namespace deletes the peer and so the pair; this only
	// matters when setup failed between "link add" and "set netns".
	if _, err := os.Stat(filepath.Join("/sys/class/net", s.HostIf)); err == nil {
		if err := RunIP(context.Background(), "link", "delete", s.HostIf); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(filepath.Join(netnsEtcDir, s.NS)); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// pidsInNetns lists the processes whose network namespace is the one bound
// at nsPath. `ip netns pids` fails on this kernel, so compare inodes here.
func pidsInNetns(nsPath string) ([]int, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(nsPath, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", nsPath, err)
	}
	want := fmt.Sprintf("net:[%d]", st.Ino)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && link == want {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killAll sends SIGTERM, waits up to grace for all to exit, then SIGKILLs.
func killAll(pids []int, grace time.Duration) {
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		alive := false
		for _, p := range pids {
			if processAlive(p) {
				alive = true
				break
			}
		}
		if !alive {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// OurNetns lists the namespaces named with NetnsPrefix.
func OurNetns() []string {
	entries, _ := os.ReadDir(netnsRunDir)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), NetnsPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

// OurLinks lists host interfaces named with HostIfPrefix followed by a number.
func OurLinks() []string {
	entries, _ := os.ReadDir("/sys/class/net")
	var out []string
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), HostIfPrefix); ok {
			if _, err := strconv.Atoi(rest); err == nil {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// SweepNetwork removes every namespace and veth of ours, whoever made them.
func SweepNetwork() error {
	var errs []error
	seen := map[int]bool{}
	for _, ns := range OurNetns() {
		if n, err := strconv.Atoi(strings.TrimPrefix(ns, NetnsPrefix)); err == nil {
			seen[n] = true
			errs = append(errs, slotFor(n).teardown())
		} else {
			errs = append(errs, RunIP(context.Background(), "netns", "delete", ns))
		}
	}
	for _, l := range OurLinks() {
		n, _ := strconv.Atoi(strings.TrimPrefix(l, HostIfPrefix))
		if !seen[n] {
			errs = append(errs, slotFor(n).teardown())
		}
	}
	entries, _ := os.ReadDir(netnsEtcDir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), NetnsPrefix) {
			errs = append(errs, os.RemoveAll(filepath.Join(netnsEtcDir, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// Veth is a network namespace joined to the host by a veth pair on a /24:
// HostIP on the host side, IP inside, default route via the host. Function
// instances and the lab's hosts are both made this way.
type Veth struct {
	NS             string
	HostIf, PeerIf string // interface names (≤ 15 characters)
	HostIP, IP     string
}

// Connect creates the namespace and the pair. It does not clean up a half
// done setup: the caller's teardown does, as it must after a crash anyway.
func (v Veth) Connect(ctx context.Context) error {
	steps := [][]string{
		{"netns", "add", v.NS},
		{"link", "add", v.HostIf, "type", "veth", "peer", "name", v.PeerIf},
		{"link", "set", v.PeerIf, "netns", v.NS},
		{"addr", "add", v.HostIP + "/24", "dev", v.HostIf},
		{"link", "set", v.HostIf, "up"},
		{"-n", v.NS, "link", "set", "lo", "up"},
		{"-n", v.NS, "addr", "add", v.IP + "/24", "dev", v.PeerIf},
		{"-n", v.NS, "link", "set", v.PeerIf, "up"},
		{"-n", v.NS, "route", "add", "default", "via", v.HostIP},
	}
	for _, args := range steps {
		if err := RunIP(ctx, args...); err != nil {
			return fmt.Errorf("netns %s: %w", v.NS, err)
		}
	}
	return nil
}

// RunIP runs iproute2's ip with args; the error carries its output.
func RunIP(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "ip", args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

// ipForwardFile records ip_forward's value from before the stack, so that
// down puts the machine back as it found it.
func ipForwardFile(d Dirs) string { return filepath.Join(d.Run(), "ip_forward.orig") }

const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// enableIPForward lets functions reach each other, the gateway on the host
// side address and lab hosts in other namespaces.
func enableIPForward(d Dirs) error {
	cur, err := os.ReadFile(ipForwardPath)
	if err != nil {
		return fmt.Errorf("read ip_forward: %w", err)
	}
	if _, err := os.Stat(ipForwardFile(d)); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(ipForwardFile(d), cur, 0o600); err != nil {
			return fmt.Errorf("save ip_forward: %w", err)
		}
	}
	if strings.TrimSpace(string(cur)) == "1" {
		return nil
	}
	if err := os.WriteFile(ipForwardPath, []byte("1\n"), 0o644); err != nil {
		return fmt.Errorf("enable ip_forward: %w", err)
	}
	return nil
}

func restoreIPForward(d Dirs) error {
	orig, err := os.ReadFile(ipForwardFile(d))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if err := os.WriteFile(ipForwardPath, orig, 0o644); err != nil {
		return fmt.Errorf("restore ip_forward: %w", err)
	}
	return os.Remove(ipForwardFile(d))
}
