package discovery

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/faasmon/faasmon/pkg/provider"
)

// Local polls the local provider's instance list.
type Local struct {
	// URL of the provider, e.g. http://127.0.0.1:8083.
	URL      string
	Interval time.Duration // default 500ms: follow changes well within 2s
	ProcRoot string        // default /proc
	Client   *http.Client
	// OnError is told about failed polls (the tracer counts and logs them);
	// the last good snapshot stays in force meanwhile.
	OnError func(error)
	// CgroupRoot is the cgroup v2 mount (default: found in
	// ProcRoot/self/mountinfo), where each instance's cgroup
	// (faasmon-fn/<function>-<id>, Target.Cgroup) is looked up.
	CgroupRoot string

	cgroups map[string]string // instance id → its cgroup directory ("" if none)
}

// Run polls until ctx is done.
func (l *Local) Run(ctx context.Context, update func([]Target)) error {
	iv := l.Interval
	if iv <= 0 || iv > time.Second {
		iv = 500 * time.Millisecond
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		ts, err := l.Poll(ctx)
		if err != nil {
			if l.OnError != nil && ctx.Err() == nil {
				l.OnError(err)
			}
		} else {
			update(ts)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Poll fetches one snapshot.
func (l *Local) Poll(ctx context.Context) ([]Target, error) {
	c := l.Client
	if c == nil {
		c = &http.Client{Timeout: 2 * time.Second}
	}
	insts, err := provider.FetchInstances(ctx, c, l.URL)
	if err != nil {
		return nil, fmt.Errorf("local discovery: %w", err)
	}
	proc := l.ProcRoot
	if proc == "" {
		proc = "/proc"
	}
	out := make([]Target, 0, len(insts))
	cgs := make(map[string]string, len(insts))
	for _, in := range insts {
		if in.ID == "" || in.PID <= 0 || in.Function == "" {
			continue // not attachable; a later poll will show it complete
		}
		t := Target{
			Key: in.ID, Function: in.Function, Namespace: in.Namespace,
			Container: in.ID, Image: in.Image, PID: in.PID, PIDs: []int{in.PID}, NetNS: in.NetNS,
		}
		// The start time pins the PID to this process: a PID reused after
		// the instance died must not be traced as this instance.
		st, err := ProcStart(proc, in.PID)
		if err != nil {
			continue // already gone
		}
		t.StartTicks = st
		cg, ok := l.cgroups[in.ID]
		if !ok {
			cg = l.cgroupOf(proc, in)
		}
		cgs[in.ID] = cg
		t.Cgroup = cg
		out = append(out, t)
	}
	l.cgroups = cgs
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// cgroupOf is the instance's own cgroup, which the local provider names
// <function>-<instance id>; "" where it has none (a CI container without a
// writable cgroup tree: the instance runs in the provider's cgroup, whose
// other processes are not the function's), and Members then follows the
// instance's process tree.
func (l *Local) cgroupOf(proc string, in provider.Instance) string {
	return cgroupOf(proc, l.CgroupRoot, in.PID, func(dir string) bool { return strings.HasSuffix(filepath.Base(dir), "-"+in.ID) })
}
