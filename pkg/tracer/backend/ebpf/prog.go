package ebpf

import (
	"fmt"

	cebpf "github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
)

// The programs are written with cilium/ebpf's asm package (no clang on the
// build machines, DESIGN.md §4). Two raw tracepoints:
//
//   - sys_exit records every covered call once it returned: arguments,
//     result, and the user strings/structs it named (read while the
//     caller's memory is still the same: the thread has not returned).
//   - sys_enter records only what does not survive the call: execve's path
//     (a successful exec replaces the memory it points into) and
//     exit_group (never returns).
//
// Both first look the current task's cgroup v2 id up in the "cgroups" hash
// map, which user space fills with the function containers' cgroups: any
// other process costs one helper call and one map lookup. The map's value
// is that container's count of records lost to a full ring buffer.

// Record layout shared with decode.go (little endian, x86_64).
const (
	offTS      = 0
	offCgroup  = 8
	offPidTgid = 16
	offNr      = 24
	offRet     = 32
	offArgs    = 40 // six u64: di, si, dx, r10, r8, r9 (syscall args 0..5)
	offLen1    = 88 // i32: bytes in data1 (string: incl. NUL), or -errno
	offLen2    = 92
	offFlags   = 96 // u32: flagEnter, flagFork
	offData1   = 104
	strMax     = 256 // bound of every path read in the kernel
	offData2   = offData1 + strMax
	bytesMax   = 128 // bound of a sockaddr/struct read (sockaddr_un is 110)
	// headMax bounds the bytes kept of a read that returned an HTTP
	// request head (its first 4 bytes are a method): the request line and
	// X-Call-Id are taken from them in user space, the rest is dropped
	// there. 4 KiB is what Go's server reads at a time.
	headMax = 4096

	sizeNone  = offData1
	sizeStr1  = offData1 + strMax
	sizeStr2  = offData2 + strMax
	sizeBytes = offData1 + bytesMax
	sizeHead  = offData1 + headMax

	// dnsMax bounds the bytes kept of a DNS query a process sends (a
	// query is a header and one question: resolvers' are under 300
	// bytes; 512 is classic DNS's UDP bound). dnsMin is the shortest
	// query with a question (12-byte header, a 1-byte name, type, class):
	// writes outside [dnsMin, dnsMax] skip the check altogether. A DNS
	// record carries the query at offData1 and, when the call named its
	// destination (sendto, sendmsg), that sockaddr at offDNSAddr.
	dnsMin     = 17
	dnsMax     = 512
	offDNSAddr = offData1 + dnsMax
	dnsAddrMax = 28 // sockaddr_in6
	sizeDNS    = offDNSAddr + 32

	// execve's record: the path, then argvMax arguments of at most
	// argMax bytes each (NUL-terminated; an empty slot ends the list).
	argvMax  = 8
	argMax   = 96
	offArgv  = offData1 + strMax
	sizeExec = offArgv + argvMax*argMax

	flagEnter = 1
	// flagFork marks a record of sched_process_fork (forkProgram): a
	// process made a new process, whose host pid is the record's ret.
	flagFork = 2
)

// Stack slots (offsets from the frame pointer R10).
const (
	stCgroup = -8
	stRet    = -16
	// 72 bytes of struct pt_regs from offset 56 (r10) to 128 (after
	// orig_ax): r10 r9 r8 ax cx dx si di orig_ax.
	stRegs   = -88
	stR10    = stRegs + 0
	stR9     = stRegs + 8
	stR8     = stRegs + 16
	stDX     = stRegs + 40
	stSI     = stRegs + 48
	stDI     = stRegs + 56
	stOrigAX = stRegs + 64
	stPid    = -96
	stTS     = -104
	stArgv   = -104 - 8*argvMax // argv's first argvMax pointers (sys_exit: a struct msghdr)
	// The DNS checks' slots (sys_exit only).
	stDNSAddr    = stArgv - 8  // the destination sockaddr a send named, or 0
	stDNSAddrLen = stArgv - 16 // its length
	stPeek       = stArgv - 24 // a sockaddr's family and port
	stKey        = stArgv - 32 // (tgid << 32 | fd): a key of mapDNSFDs
	stVal        = stArgv - 40
	stIov        = stArgv - 56 // a struct iovec: base, len

	ptRegsFrom = 56 // offsetof(struct pt_regs, r10) on x86_64
	ptRegsLen  = 72
)

// argSlot is the stack slot of syscall argument i.
var argSlot = [6]int16{stDI, stSI, stDX, stR10, stR8, stR9}

// shape says what a record carries beyond its fixed header.
type shape int

const (
	shapeNone  shape = iota
	shapeStr1        // one user string, pointer in R7
	shapeStr2        // two user strings, R7 and R8
	shapeBytes       // R8 bytes (clamped to bytesMax) of user memory at R7
	shapeExec        // a path at R7 and the argv array at R8
	shapeHead        // R8 bytes (clamped to headMax) at R7: a request head read
	shapeDNS         // R8 bytes (clamped to dnsMax) at R7: a DNS query sent, and its destination
)

// spec says how one syscall is recorded: which arguments are user strings
// or structs.
type spec struct {
	name  string
	shape shape
	a, b  int // argument indexes for R7/R8 (b: for shapeBytes the length argument, or -8 for a fixed 8 bytes)
	// quiet: recorded only as something else (sendmmsg: the DNS query it
	// sends); not in Covered.
	quiet bool
}

// Ring-buffer wake-up policy: records are submitted without waking the
// reader unless this much data waits; the reader polls every PollInterval
// anyway. A wake-up per record is what made eBPF cost 3.1× on a syscall
// loop in DESIGN.md §4 (1.5× without).
const wakeupBytes = 256 << 10

const (
	mapCgroups = "cgroups"
	mapEvents  = "events"
	// mapFollow is one entry {level, cgroup id, lost}: the parent cgroup
	// whose descendants are traced from their creation (level 0: none).
	mapFollow = "follow"
	// mapMuted holds cgroups under that parent never to trace (the
	// detector's own functions).
	mapMuted = "muted"
	// mapDNSFDs holds the sockets connected to port 53, by (tgid << 32 |
	// fd): connect adds or removes an entry, close and a dup2/dup3 over
	// the fd remove it. An LRU: a process that exits without closing
	// leaves entries that the newest push out.
	mapDNSFDs = "dnsfds"
	// MaxDNSSockets bounds mapDNSFDs.
	MaxDNSSockets = 16384
	// RingBytes is the ring buffer's size (a power of two of pages).
	RingBytes = 8 << 20
	// MaxCgroups bounds the containers traced at once on a node.
	MaxCgroups = 4096
)

const (
	bpfRBNoWakeup    = 1
	bpfRBForceWakeup = 2
	bpfRBAvailData   = 0
)

// Spec builds the collection: the two maps and the two programs.
func Spec() (*cebpf.CollectionSpec, error) {
	enter, err := program(true)
	if err != nil {
		return nil, err
	}
	exit, err := program(false)
	if err != nil {
		return nil, err
	}
	return &cebpf.CollectionSpec{
		Maps: map[string]*cebpf.MapSpec{
			mapCgroups: {Name: "faasmon_cgroups", Type: cebpf.Hash, KeySize: 8, ValueSize: 8, MaxEntries: MaxCgroups},
			mapEvents:  {Name: "faasmon_events", Type: cebpf.RingBuf, MaxEntries: RingBytes},
			mapFollow:  {Name: "faasmon_follow", Type: cebpf.Array, KeySize: 4, ValueSize: 24, MaxEntries: 1},
			mapMuted:   {Name: "faasmon_muted", Type: cebpf.Hash, KeySize: 8, ValueSize: 8, MaxEntries: MaxCgroups},
			mapDNSFDs:  {Name: "faasmon_dnsfds", Type: cebpf.LRUHash, KeySize: 8, ValueSize: 8, MaxEntries: MaxDNSSockets},
		},
		Programs: map[string]*cebpf.ProgramSpec{
			"sys_enter": {Name: "faasmon_enter", Type: cebpf.RawTracepoint, License: "Dual MIT/GPL", Instructions: enter},
			"sys_exit":  {Name: "faasmon_exit", Type: cebpf.RawTracepoint, License: "Dual MIT/GPL", Instructions: exit},
		},
	}, nil
}

// program returns sys_enter's (enter) or sys_exit's instructions.
func program(enter bool) (asm.Instructions, error) {
	table := exitCalls
	if enter {
		table = enterCalls
	}
	var in asm.Instructions
	in = append(in, asm.Mov.Reg(asm.R6, asm.R1))
	if enter {
		// The syscall number is the tracepoint's second argument: skip
		// uncovered calls before any helper runs.
		in = append(in, asm.LoadMem(asm.R7, asm.R6, 8, asm.DWord))
		for _, nr := range sortedNrs(table) {
			in = append(in, asm.JEq.Imm(asm.R7, int32(nr), "filter"))
		}
		in = append(in, asm.Ja.Label("out"))
	}
	in = append(in, filter()...)
	if enter {
		in = append(in, asm.Mov.Imm(asm.R1, 0), asm.StoreMem(asm.RFP, stRet, asm.R1, asm.DWord))
	} else {
		in = append(in,
			asm.LoadMem(asm.R1, asm.R6, 8, asm.DWord), // sys_exit's ret
			asm.StoreMem(asm.RFP, stRet, asm.R1, asm.DWord),
		)
	}
	in = append(in,
		// The tracepoint's first argument is the task's struct pt_regs:
		// the arguments and orig_ax (the syscall number, also at exit).
		asm.LoadMem(asm.R3, asm.R6, 0, asm.DWord),
		asm.Add.Imm(asm.R3, ptRegsFrom),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, stRegs),
		asm.Mov.Imm(asm.R2, ptRegsLen),
		asm.FnProbeReadKernel.Call(),
		asm.JNE.Imm(asm.R0, 0, "out"),
		asm.LoadMem(asm.R1, asm.RFP, stOrigAX, asm.DWord),
	)
	nrs := sortedNrs(table)
	if !enter {
		// close is never recorded: in the kernel it forgets a DNS
		// socket (mapDNSFDs).
		nrs = append(nrs, nrClose)
	}
	for _, nr := range nrs {
		in = append(in, asm.JEq.Imm(asm.R1, int32(nr), fmt.Sprintf("nr_%d", nr)))
	}
	in = append(in, asm.Ja.Label("out"))
	for _, nr := range nrs {
		s := table[nr]
		if !enter && (nr == nrRead || nr == nrRecvfrom) {
			in = append(in, headCheck(nr)...)
			continue
		}
		if !enter {
			switch nr {
			case nrWrite, nrSendto, nrSendmsg, nrSendmmsg:
				in = append(in, dnsCheck(nr)...)
				continue
			case nrClose:
				in = append(in, fdKey(fmt.Sprintf("nr_%d", nr), stDI)...)
				in = append(in, forget("out")...)
				continue
			}
		}
		first := true
		label := func(i asm.Instruction) asm.Instruction {
			if first {
				first = false
				return i.WithSymbol(fmt.Sprintf("nr_%d", nr))
			}
			return i
		}
		if !enter {
			switch nr {
			case nrConnect:
				in = append(in, connectMark()...)
				first = false
			case nrDup2, nrDup3:
				in = append(in, dupForget(nr)...)
				first = false
			}
		}
		switch s.shape {
		case shapeStr1:
			in = append(in, label(asm.LoadMem(asm.R7, asm.RFP, argSlot[s.a], asm.DWord)))
		case shapeStr2, shapeBytes, shapeExec:
			in = append(in, label(asm.LoadMem(asm.R7, asm.RFP, argSlot[s.a], asm.DWord)))
			if s.b >= 0 {
				in = append(in, asm.LoadMem(asm.R8, asm.RFP, argSlot[s.b], asm.DWord))
			} else {
				in = append(in, asm.Mov.Imm(asm.R8, int32(-s.b)))
			}
		}
		in = append(in, label(asm.Ja.Label(fmt.Sprintf("shape_%d", s.shape))))
	}
	// Only the shapes this program uses: the verifier refuses unreachable
	// instructions.
	used := map[shape]bool{}
	for _, s := range table {
		used[s.shape] = true
	}
	if !enter {
		used[shapeHead] = true
		used[shapeDNS] = true
		in = append(in, dnsShared()...)
	}
	for _, sh := range []shape{shapeNone, shapeStr1, shapeStr2, shapeBytes, shapeExec, shapeHead, shapeDNS} {
		if used[sh] {
			flags := int64(0)
			if enter {
				flags = flagEnter
			}
			in = append(in, emit(sh, flags)...)
		}
	}
	in = append(in, asm.Mov.Imm(asm.R0, 0).WithSymbol("out"), asm.Return())
	return in, nil
}

// filter is every program's prologue: it goes on at "matched" with R9
// pointing at the loss counter of the container the current task is in,
// or jumps to "out" for a task of no traced container. It keeps R6-R8.
func filter() asm.Instructions {
	in := asm.Instructions{
		asm.FnGetCurrentCgroupId.Call().WithSymbol("filter"),
		asm.StoreMem(asm.RFP, stCgroup, asm.R0, asm.DWord),
	}
	in = append(in, lookup(mapCgroups, stCgroup)...)
	in = append(in,
		asm.JEq.Imm(asm.R0, 0, "ancestor"),
		asm.Mov.Reg(asm.R9, asm.R0), // this container's loss counter
		asm.Ja.Label("matched"),
	)
	// Not a subscribed container: is it a new one, under the parent whose
	// children are followed from creation (the "follow" entry: its level
	// in the tree, its id, a loss counter), and not muted? Its records go
	// to user space, which keeps them until the container is attached.
	in = append(in,
		asm.Mov.Imm(asm.R1, 0).WithSymbol("ancestor"),
		asm.StoreMem(asm.RFP, stRet, asm.R1, asm.Word),
	)
	in = append(in, lookup(mapFollow, stRet)...)
	in = append(in,
		asm.JEq.Imm(asm.R0, 0, "out"),
		asm.Mov.Reg(asm.R9, asm.R0),
		asm.LoadMem(asm.R1, asm.R0, 0, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, "out"),
		asm.FnGetCurrentAncestorCgroupId.Call(),
		asm.LoadMem(asm.R1, asm.R9, 8, asm.DWord),
		asm.JNE.Reg(asm.R0, asm.R1, "out"),
	)
	in = append(in, lookup(mapMuted, stCgroup)...)
	return append(in,
		asm.JNE.Imm(asm.R0, 0, "out"),
		asm.Add.Imm(asm.R9, 16), // the follow entry's loss counter
		asm.Mov.Reg(asm.R9, asm.R9).WithSymbol("matched"),
	)
}

// lookup looks the key in stack slot key up in map m: R0 is the value's
// address, or 0.
func lookup(m string, key int16) asm.Instructions {
	return asm.Instructions{
		asm.LoadMapPtr(asm.R1, 0).WithReference(m),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, int32(key)),
		asm.FnMapLookupElem.Call(),
	}
}

// Syscall numbers of the reads whose data may be a request head.
const (
	nrRead     = 0
	nrRecvfrom = 45
)

// httpMethods are the first 4 bytes of a request line, little endian.
var httpMethods = []string{"GET ", "POST", "PUT ", "HEAD", "DELE", "PATC", "OPTI"}

// headCheck is sys_exit's code for read and recvfrom (buffer: argument 1):
// a successful read whose first 4 bytes are an HTTP method is recorded
// with its head (shapeHead), any other as shapeNone. Only request heads
// are copied out of the process, never other data.
func headCheck(nr int) asm.Instructions {
	l := func(s string) string { return fmt.Sprintf("head_%d_%s", nr, s) }
	in := asm.Instructions{
		asm.LoadMem(asm.R8, asm.RFP, stRet, asm.DWord).WithSymbol(fmt.Sprintf("nr_%d", nr)),
		asm.JSLT.Imm(asm.R8, 4, l("none")),
		asm.LoadMem(asm.R7, asm.RFP, stSI, asm.DWord),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, stArgv),
		asm.Mov.Imm(asm.R2, 4),
		asm.Mov.Reg(asm.R3, asm.R7),
		asm.FnProbeReadUser.Call(),
		asm.JNE.Imm(asm.R0, 0, l("none")),
		asm.LoadMem(asm.R1, asm.RFP, stArgv, asm.Word),
	}
	for _, m := range httpMethods {
		in = append(in, asm.JEq.Imm(asm.R1, int32(le.Uint32([]byte(m))), fmt.Sprintf("shape_%d", shapeHead)))
	}
	return append(in, asm.Ja.Label(fmt.Sprintf("shape_%d", shapeNone)).WithSymbol(l("none")))
}

// emit writes one record of shape sh: header from the stack, then the
// user memory R7/R8 name. A full ring buffer counts a loss in the
// container's cgroups entry (R9).
func emit(sh shape, flags int64) asm.Instructions {
	l := func(s string) string { return fmt.Sprintf("shape_%d_%s", sh, s) }
	size := map[shape]int32{shapeNone: sizeNone, shapeStr1: sizeStr1, shapeStr2: sizeStr2, shapeBytes: sizeBytes, shapeExec: sizeExec, shapeHead: sizeHead, shapeDNS: sizeDNS}[sh]
	in := asm.Instructions{
		asm.FnGetCurrentPidTgid.Call().WithSymbol(fmt.Sprintf("shape_%d", sh)),
		asm.StoreMem(asm.RFP, stPid, asm.R0, asm.DWord),
		asm.FnKtimeGetNs.Call(),
		asm.StoreMem(asm.RFP, stTS, asm.R0, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapEvents),
		asm.Mov.Imm(asm.R2, size),
		asm.Mov.Imm(asm.R3, 0),
		asm.FnRingbufReserve.Call(),
		asm.JNE.Imm(asm.R0, 0, l("ok")),
		asm.Mov.Imm(asm.R1, 1),
		asm.StoreXAdd(asm.R9, asm.R1, asm.DWord),
		asm.Ja.Label("out"),
		asm.Mov.Reg(asm.R6, asm.R0).WithSymbol(l("ok")),
	}
	copies := []struct{ rec, st int16 }{
		{offTS, stTS}, {offCgroup, stCgroup}, {offPidTgid, stPid}, {offNr, stOrigAX}, {offRet, stRet},
	}
	for i, st := range argSlot {
		copies = append(copies, struct{ rec, st int16 }{int16(offArgs + 8*i), st})
	}
	for _, c := range copies {
		in = append(in, asm.LoadMem(asm.R1, asm.RFP, c.st, asm.DWord), asm.StoreMem(asm.R6, c.rec, asm.R1, asm.DWord))
	}
	// Reserved ring memory is not zeroed: every header byte is written.
	in = append(in,
		asm.StoreImm(asm.R6, offLen1, 0, asm.Word),
		asm.StoreImm(asm.R6, offLen2, 0, asm.Word),
		asm.StoreImm(asm.R6, offFlags, flags, asm.Word),
		asm.StoreImm(asm.R6, offFlags+4, 0, asm.Word),
	)
	str := func(off int16, lenOff int16, src asm.Register) asm.Instructions {
		return asm.Instructions{
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Add.Imm(asm.R1, int32(off)),
			asm.Mov.Imm(asm.R2, strMax),
			asm.Mov.Reg(asm.R3, src),
			asm.FnProbeReadUserStr.Call(),
			asm.StoreMem(asm.R6, lenOff, asm.R0, asm.Word),
		}
	}
	switch sh {
	case shapeExec:
		in = append(in, str(offData1, offLen1, asm.R7)...)
		// The argv pointers, then each argument (bounded): what strace
		// shows of an exec, never the environment.
		for i := 0; i < argvMax; i++ {
			in = append(in, asm.StoreImm(asm.R6, int16(offArgv+i*argMax), 0, asm.Byte))
		}
		in = append(in,
			asm.Mov.Reg(asm.R1, asm.RFP),
			asm.Add.Imm(asm.R1, stArgv),
			asm.Mov.Imm(asm.R2, 8*argvMax),
			asm.Mov.Reg(asm.R3, asm.R8),
			asm.FnProbeReadUser.Call(),
			asm.JNE.Imm(asm.R0, 0, l("submit")),
		)
		for i := 0; i < argvMax; i++ {
			in = append(in,
				asm.LoadMem(asm.R3, asm.RFP, int16(stArgv+8*i), asm.DWord),
				asm.JEq.Imm(asm.R3, 0, l("submit")),
				asm.Mov.Reg(asm.R1, asm.R6),
				asm.Add.Imm(asm.R1, int32(offArgv+i*argMax)),
				asm.Mov.Imm(asm.R2, argMax),
				asm.FnProbeReadUserStr.Call(),
			)
		}
	case shapeStr1:
		in = append(in, str(offData1, offLen1, asm.R7)...)
	case shapeStr2:
		in = append(in, str(offData1, offLen1, asm.R7)...)
		in = append(in, str(offData2, offLen2, asm.R8)...)
	case shapeBytes, shapeHead, shapeDNS:
		bound := int32(bytesMax)
		switch sh {
		case shapeHead:
			bound = headMax
		case shapeDNS:
			bound = dnsMax
			in = append(in, dnsAddrCopy(l)...)
		}
		in = append(in,
			asm.Mov.Reg(asm.R2, asm.R8),
			asm.JLE.Imm(asm.R2, bound, l("len")),
			asm.Mov.Imm(asm.R2, bound),
			asm.Mov.Reg(asm.R8, asm.R2).WithSymbol(l("len")),
			asm.Mov.Reg(asm.R1, asm.R6),
			asm.Add.Imm(asm.R1, offData1),
			asm.Mov.Reg(asm.R3, asm.R7),
			asm.FnProbeReadUser.Call(),
			asm.JNE.Imm(asm.R0, 0, l("err")),
			asm.StoreMem(asm.R6, offLen1, asm.R8, asm.Word),
			asm.Ja.Label(l("submit")),
			asm.StoreMem(asm.R6, offLen1, asm.R0, asm.Word).WithSymbol(l("err")),
		)
	}
	in = append(in,
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapEvents).WithSymbol(l("submit")),
		asm.Mov.Imm(asm.R2, bpfRBAvailData),
		asm.FnRingbufQuery.Call(),
		asm.Mov.Imm(asm.R2, bpfRBNoWakeup),
		asm.JLT.Imm(asm.R0, wakeupBytes, l("sub")),
		asm.Mov.Imm(asm.R2, bpfRBForceWakeup),
		asm.Mov.Reg(asm.R1, asm.R6).WithSymbol(l("sub")),
		asm.FnRingbufSubmit.Call(),
		asm.Ja.Label("out"),
	)
	return in
}

// Syscall numbers of the DNS checks (x86_64).
const (
	nrWrite    = 1
	nrClose    = 3
	nrDup2     = 33
	nrConnect  = 42
	nrSendto   = 44
	nrSendmsg  = 46
	nrSendmmsg = 307
	nrDup3     = 292

	afInet  = 2
	afInet6 = 10
	// port53 is htons(53) read as a little-endian u16.
	port53   = 53 << 8
	einprogr = -115 // -EINPROGRESS
)

// DNS queries. A process sends one with sendto naming port 53 (musl,
// Python), or on a socket it connected to port 53: write (Go), send or
// sendto without an address (c-ares), sendmmsg (glibc, A and AAAA at once)
// or sendmsg. The peer of a connected socket is not at hand here, so
// connect marks (tgid, fd) in mapDNSFDs when its sockaddr names port 53.
// A send that is one copies up to dnsMax bytes of its data (shapeDNS),
// from which user space keeps only the question's name and type; any
// other send stays shapeNone. What the checks cost every write and send:
// two compares of the result (outside [dnsMin, dnsMax] nothing else runs),
// then one helper call and one lookup in mapDNSFDs.

// dnsCheck is sys_exit's code for write, sendto, sendmsg and sendmmsg.
func dnsCheck(nr int) asm.Instructions {
	none := fmt.Sprintf("shape_%d", shapeNone)
	in := asm.Instructions{
		asm.LoadMem(asm.R8, asm.RFP, stRet, asm.DWord).WithSymbol(fmt.Sprintf("nr_%d", nr)),
	}
	if nr == nrSendmmsg {
		// The result is a count of messages.
		in = append(in, asm.JSLT.Imm(asm.R8, 1, none))
	} else {
		in = append(in, asm.JSLT.Imm(asm.R8, dnsMin, none), asm.JSGT.Imm(asm.R8, dnsMax, none))
	}
	in = append(in,
		asm.Mov.Imm(asm.R1, 0),
		asm.StoreMem(asm.RFP, stDNSAddr, asm.R1, asm.DWord),
		asm.StoreMem(asm.RFP, stDNSAddrLen, asm.R1, asm.DWord),
	)
	switch nr {
	case nrWrite:
		return append(in, asm.LoadMem(asm.R7, asm.RFP, stSI, asm.DWord), asm.Ja.Label("dns_fd"))
	case nrSendto:
		return append(in,
			asm.LoadMem(asm.R7, asm.RFP, stSI, asm.DWord),
			asm.LoadMem(asm.R1, asm.RFP, stR8, asm.DWord), // dest_addr
			asm.JEq.Imm(asm.R1, 0, "dns_fd"),
			asm.StoreMem(asm.RFP, stDNSAddr, asm.R1, asm.DWord),
			asm.LoadMem(asm.R1, asm.RFP, stR9, asm.DWord), // addrlen: a socklen_t, the register's upper half undefined
			asm.LSh.Imm(asm.R1, 32),
			asm.RSh.Imm(asm.R1, 32),
			asm.StoreMem(asm.RFP, stDNSAddrLen, asm.R1, asm.DWord),
			asm.Ja.Label("dns_peek"),
		)
	}
	// sendmsg, sendmmsg: the (first) struct msghdr, then its first iovec.
	// sendmmsg's first message only: glibc's second is the same name's
	// AAAA question.
	return append(in,
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, stArgv),
		asm.Mov.Imm(asm.R2, 56), // sizeof(struct msghdr)
		asm.LoadMem(asm.R3, asm.RFP, stSI, asm.DWord),
		asm.FnProbeReadUser.Call(),
		asm.JNE.Imm(asm.R0, 0, none),
		asm.LoadMem(asm.R1, asm.RFP, stArgv+24, asm.DWord), // msg_iovlen
		asm.JEq.Imm(asm.R1, 0, none),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, stIov),
		asm.Mov.Imm(asm.R2, 16),
		asm.LoadMem(asm.R3, asm.RFP, stArgv+16, asm.DWord), // msg_iov
		asm.FnProbeReadUser.Call(),
		asm.JNE.Imm(asm.R0, 0, none),
		asm.LoadMem(asm.R7, asm.RFP, stIov, asm.DWord),
		asm.LoadMem(asm.R8, asm.RFP, stIov+8, asm.DWord),
		asm.JLT.Imm(asm.R8, dnsMin, none),
		asm.LoadMem(asm.R1, asm.RFP, stArgv, asm.DWord), // msg_name
		asm.JEq.Imm(asm.R1, 0, "dns_fd"),
		asm.StoreMem(asm.RFP, stDNSAddr, asm.R1, asm.DWord),
		asm.LoadMem(asm.R1, asm.RFP, stArgv+8, asm.Word), // msg_namelen
		asm.StoreMem(asm.RFP, stDNSAddrLen, asm.R1, asm.DWord),
		asm.Ja.Label("dns_peek"),
	)
}

// dnsShared is the code the DNS checks jump to: dns_peek (is the sockaddr
// at stDNSAddr an IPv4/IPv6 one on port 53?) and dns_fd (is the call's fd
// a socket connected to port 53?). R7/R8 hold the data and its length.
func dnsShared() asm.Instructions {
	none := fmt.Sprintf("shape_%d", shapeNone)
	dns := fmt.Sprintf("shape_%d", shapeDNS)
	in := asm.Instructions{
		asm.Mov.Reg(asm.R1, asm.RFP).WithSymbol("dns_peek"),
		asm.Add.Imm(asm.R1, stPeek),
		asm.Mov.Imm(asm.R2, 4),
		asm.LoadMem(asm.R3, asm.RFP, stDNSAddr, asm.DWord),
		asm.FnProbeReadUser.Call(),
		asm.JNE.Imm(asm.R0, 0, none),
	}
	in = append(in, isPort53("dns_peek", dns, none)...)
	in = append(in, fdKey("dns_fd", stDI)...)
	in = append(in, lookup(mapDNSFDs, stKey)...)
	return append(in,
		asm.JEq.Imm(asm.R0, 0, none),
		asm.Ja.Label(dns),
	)
}

// isPort53 jumps to yes when the family and port at stPeek are AF_INET or
// AF_INET6 and 53, else to no.
func isPort53(prefix, yes, no string) asm.Instructions {
	port := prefix + "_port"
	return asm.Instructions{
		asm.LoadMem(asm.R1, asm.RFP, stPeek, asm.Half),
		asm.JEq.Imm(asm.R1, afInet, port),
		asm.JEq.Imm(asm.R1, afInet6, port),
		asm.Ja.Label(no),
		asm.LoadMem(asm.R1, asm.RFP, stPeek+2, asm.Half).WithSymbol(port),
		asm.JEq.Imm(asm.R1, port53, yes),
		asm.Ja.Label(no),
	}
}

// fdKey stores (tgid << 32 | the fd in stack slot src) at stKey; its
// first instruction carries sym.
func fdKey(sym string, src int16) asm.Instructions {
	return asm.Instructions{
		asm.FnGetCurrentPidTgid.Call().WithSymbol(sym),
		asm.RSh.Imm(asm.R0, 32),
		asm.LSh.Imm(asm.R0, 32),
		asm.LoadMem(asm.R1, asm.RFP, src, asm.DWord),
		asm.LSh.Imm(asm.R1, 32),
		asm.RSh.Imm(asm.R1, 32),
		asm.Or.Reg(asm.R0, asm.R1),
		asm.StoreMem(asm.RFP, stKey, asm.R0, asm.DWord),
	}
}

// forget removes the key at stKey from mapDNSFDs (a lookup first: most
// fds closed were never marked, and a lookup takes no lock), then jumps to
// done.
func forget(done string) asm.Instructions {
	in := lookup(mapDNSFDs, stKey)
	return append(in,
		asm.JEq.Imm(asm.R0, 0, done),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapDNSFDs),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stKey),
		asm.FnMapDeleteElem.Call(),
		asm.Ja.Label(done),
	)
}

// connectMark is sys_exit's prelude for connect: a socket connected (or
// connecting: EINPROGRESS) to port 53 is marked in mapDNSFDs, any other
// connect of the fd (another port, AF_UNSPEC to dissolve, a failure)
// removes its mark. Then connect is recorded as before.
func connectMark() asm.Instructions {
	l := func(s string) string { return "connect_" + s }
	in := fdKey(fmt.Sprintf("nr_%d", nrConnect), stDI)
	in = append(in,
		asm.LoadMem(asm.R1, asm.RFP, stRet, asm.DWord),
		asm.JEq.Imm(asm.R1, 0, l("peek")),
		asm.JEq.Imm(asm.R1, einprogr, l("peek")),
		asm.Ja.Label(l("forget")),
		asm.LoadMem(asm.R3, asm.RFP, stSI, asm.DWord).WithSymbol(l("peek")),
		asm.JEq.Imm(asm.R3, 0, l("forget")),
		asm.Mov.Reg(asm.R1, asm.RFP),
		asm.Add.Imm(asm.R1, stPeek),
		asm.Mov.Imm(asm.R2, 4),
		asm.FnProbeReadUser.Call(),
		asm.JNE.Imm(asm.R0, 0, l("forget")),
	)
	in = append(in, isPort53(l("peek"), l("mark"), l("forget"))...)
	in = append(in,
		asm.Mov.Imm(asm.R1, 1).WithSymbol(l("mark")),
		asm.StoreMem(asm.RFP, stVal, asm.R1, asm.DWord),
		asm.LoadMapPtr(asm.R1, 0).WithReference(mapDNSFDs),
		asm.Mov.Reg(asm.R2, asm.RFP),
		asm.Add.Imm(asm.R2, stKey),
		asm.Mov.Reg(asm.R3, asm.RFP),
		asm.Add.Imm(asm.R3, stVal),
		asm.Mov.Imm(asm.R4, 0), // BPF_ANY
		asm.FnMapUpdateElem.Call(),
		asm.Ja.Label(l("go")),
	)
	fg := forget(l("go"))
	fg[0] = fg[0].WithSymbol(l("forget"))
	in = append(in, fg...)
	return append(in, asm.Mov.Imm(asm.R0, 0).WithSymbol(l("go")))
}

// dupForget is sys_exit's prelude for dup2 and dup3: the fd they replaced
// (their result, unless it is the old fd itself) is no DNS socket now.
func dupForget(nr int) asm.Instructions {
	l := func(s string) string { return fmt.Sprintf("dup_%d_%s", nr, s) }
	in := asm.Instructions{
		asm.LoadMem(asm.R1, asm.RFP, stRet, asm.DWord).WithSymbol(fmt.Sprintf("nr_%d", nr)),
		asm.JSLT.Imm(asm.R1, 0, l("go")),
		asm.LoadMem(asm.R2, asm.RFP, stDI, asm.DWord),
		asm.JEq.Reg(asm.R1, asm.R2, l("go")),
	}
	in = append(in, fdKey(l("key"), stRet)...)
	in = append(in, forget(l("go"))...)
	return append(in, asm.Mov.Imm(asm.R0, 0).WithSymbol(l("go")))
}

// dnsAddrCopy copies the destination sockaddr a send named (stDNSAddr,
// stDNSAddrLen bounded to dnsAddrMax) to offDNSAddr, its length to
// offLen2; nothing when the send named none (a connected socket).
func dnsAddrCopy(l func(string) string) asm.Instructions {
	return asm.Instructions{
		asm.LoadMem(asm.R3, asm.RFP, stDNSAddr, asm.DWord),
		asm.JEq.Imm(asm.R3, 0, l("noaddr")),
		asm.LoadMem(asm.R2, asm.RFP, stDNSAddrLen, asm.DWord),
		asm.JLE.Imm(asm.R2, dnsAddrMax, l("alen")),
		asm.Mov.Imm(asm.R2, dnsAddrMax),
		asm.StoreMem(asm.RFP, stDNSAddrLen, asm.R2, asm.DWord).WithSymbol(l("alen")),
		asm.Mov.Reg(asm.R1, asm.R6),
		asm.Add.Imm(asm.R1, offDNSAddr),
		asm.FnProbeReadUser.Call(),
		asm.JNE.Imm(asm.R0, 0, l("noaddr")),
		asm.LoadMem(asm.R1, asm.RFP, stDNSAddrLen, asm.DWord),
		asm.StoreMem(asm.R6, offLen2, asm.R1, asm.Word),
		asm.Mov.Imm(asm.R0, 0).WithSymbol(l("noaddr")),
	}
}
