package ebpf

import (
	"errors"
	"fmt"

	"github.com/cilium/ebpf/asm"
	"github.com/cilium/ebpf/btf"
)

// Why a third program. A clone's sys_exit comes after its child may have
// run: a vforked child runs until it execs while its parent sleeps, and
// any child can run on another CPU first. Its records then precede the
// clone that makes it known, possibly in an earlier chunk, and
// faasmon-graph booked them to no invocation: a shell's child in a
// background window, flagged as a process left running (the lab's benign
// gate through eBPF, 2026-12-02). And clone returns the child's pid in the
// parent's pid namespace, which on Kubernetes is not the host pid the
// records carry.
//
// sched_process_fork fires in the parent, after the child is made and
// before it can run: its record comes before anything the child does, and
// names the child by its host pid. It is a raw tracepoint whose arguments
// are the two task_structs, so the program reads the child's pid and tgid
// at offsets taken from the kernel's BTF (no clang, no compiled-in
// layout). Thread creations (pid != tgid) are left to clone's sys_exit,
// which says CLONE_THREAD.

// nrClone is clone's number: a fork record reads as a clone.
const nrClone = 56

// taskOffsets are the byte offsets of struct task_struct's pid and tgid.
type taskOffsets struct{ pid, tgid uint32 }

// kernelTaskOffsets reads them from the running kernel's BTF.
func kernelTaskOffsets() (taskOffsets, error) {
	spec, err := btf.LoadKernelSpec()
	if err != nil {
		return taskOffsets{}, fmt.Errorf("kernel BTF: %w", err)
	}
	var ts *btf.Struct
	if err := spec.TypeByName("task_struct", &ts); err != nil {
		return taskOffsets{}, fmt.Errorf("kernel BTF: task_struct: %w", err)
	}
	return structOffsets(ts)
}

// structOffsets finds pid and tgid in a task_struct, looking into its
// anonymous members (a randomised layout nests its fields in one).
func structOffsets(ts *btf.Struct) (taskOffsets, error) {
	var off taskOffsets
	var found int
	var walk func(ms []btf.Member, base uint32, depth int)
	walk = func(ms []btf.Member, base uint32, depth int) {
		for _, m := range ms {
			at := base + m.Offset.Bytes()
			switch {
			case m.Name == "pid":
				off.pid, found = at, found|1
			case m.Name == "tgid":
				off.tgid, found = at, found|2
			case m.Name == "" && depth < 4:
				switch t := btf.UnderlyingType(m.Type).(type) {
				case *btf.Struct:
					walk(t.Members, at, depth+1)
				case *btf.Union:
					walk(t.Members, at, depth+1)
				}
			}
		}
	}
	walk(ts.Members, 0, 0)
	if found != 3 {
		return taskOffsets{}, errors.New("kernel BTF: task_struct has no pid and tgid")
	}
	return off, nil
}

// forkProgram records, for a task of a traced container, every new process
// it makes (sched_process_fork's raw tracepoint: args[0] the parent,
// args[1] the child task_struct): a clone record with flagFork whose ret is
// the child's host pid.
func forkProgram(off taskOffsets) asm.Instructions {
	const stTgid, stChild = stArgv, stArgv + 8
	in := asm.Instructions{asm.Mov.Reg(asm.R6, asm.R1)}
	in = append(in, filter()...)
	// read copies the child's 4-byte field at off to the stack slot st.
	read := func(st int16, off uint32) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, int32(st)),
			asm.Mov.Imm(asm.R2, 4),
			asm.Mov.Reg(asm.R3, asm.R7),
			asm.Add.Imm(asm.R3, int32(off)),
			asm.FnProbeReadKernel.Call(),
			asm.JNE.Imm(asm.R0, 0, "out"),
		}
	}
	in = append(in, asm.LoadMem(asm.R7, asm.R6, 8, asm.DWord)) // the child
	in = append(in, read(stTgid, off.tgid)...)
	in = append(in, read(stChild, off.pid)...)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, stTgid, asm.Word),
		asm.LoadMem(asm.R2, asm.RFP, stChild, asm.Word),
		asm.JNE.Reg(asm.R1, asm.R2, "out"), // a thread: clone's sys_exit says so
		asm.StoreMem(asm.RFP, stRet, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R1, nrClone),
		asm.StoreMem(asm.RFP, stOrigAX, asm.R1, asm.DWord),
		asm.Mov.Imm(asm.R1, 0),
	)
	for _, st := range argSlot {
		in = append(in, asm.StoreMem(asm.RFP, st, asm.R1, asm.DWord))
	}
	in = append(in, emit(shapeNone, flagFork)...)
	return append(in, asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return())
}
