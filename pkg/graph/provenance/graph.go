package provenance

import (
	"errors"
	"fmt"
	"time"
)

// SchemaVersion is the version of the Graph JSON contract.
const SchemaVersion = 1

// NodeKind is the type of a provenance node.
type NodeKind string

const (
	NodeProcess NodeKind = "process"
	NodeFile    NodeKind = "file"
	NodeSocket  NodeKind = "socket" // a remote endpoint (ip:port)
	NodePipe    NodeKind = "pipe"
)

// NodeKinds lists every kind in a fixed order: models index by it.
var NodeKinds = []NodeKind{NodeProcess, NodeFile, NodeSocket, NodePipe}

// EdgeKind is the relation an edge stands for: a syscall family.
type EdgeKind string

const (
	EdgeFork    EdgeKind = "fork"    // process → child process
	EdgeExecve  EdgeKind = "execve"  // file executed → the process that runs it
	EdgeRead    EdgeKind = "read"    // file/pipe → process
	EdgeWrite   EdgeKind = "write"   // process → file/pipe
	EdgeOpen    EdgeKind = "open"    // process → file
	EdgeConnect EdgeKind = "connect" // process → socket
	EdgeAccept  EdgeKind = "accept"  // socket → process
	EdgeSend    EdgeKind = "send"    // process → socket
	EdgeRecv    EdgeKind = "recv"    // socket → process
	EdgeUnlink  EdgeKind = "unlink"  // process → file
	EdgeRename  EdgeKind = "rename"  // file → file (old → new)
	EdgeChmod   EdgeKind = "chmod"   // process → file
)

// EdgeKinds lists every relation in a fixed order: models index by it.
var EdgeKinds = []EdgeKind{EdgeFork, EdgeExecve, EdgeRead, EdgeWrite, EdgeOpen,
	EdgeConnect, EdgeAccept, EdgeSend, EdgeRecv, EdgeUnlink, EdgeRename, EdgeChmod}

// PathClass is the normalised place of a file, so that graphs of different
// functions and containers share a vocabulary.
type PathClass string

const (
	ClassFuncDir  PathClass = "func_dir" // the function's own code directory
	ClassTmp      PathClass = "tmp"      // /tmp, /var/tmp, /dev/shm
	ClassProc     PathClass = "proc"     // /proc, /sys
	ClassSecrets  PathClass = "secrets"  // /var/openfaas/secrets
	ClassSysLib   PathClass = "syslib"   // /lib, /usr/lib, /usr/local/lib, ld.so.cache
	ClassSysBin   PathClass = "sysbin"   // /bin, /usr/bin, /sbin, …
	ClassEtc      PathClass = "etc"      // /etc
	ClassDev      PathClass = "dev"      // /dev (but /dev/shm)
	ClassHome     PathClass = "home"     // $HOME, /root, /home
	ClassOther    PathClass = "other"
	ClassInternal PathClass = "internal" // socket inside the cluster (gateway, other functions)
	ClassExternal PathClass = "external" // socket outside the cluster
	ClassLoopback PathClass = "loopback"
)

// Node is one vertex. ID is its index in Graph.Nodes.
type Node struct {
	ID   int      `json:"id"`
	Kind NodeKind `json:"kind"`
	// Label is what a person reads: "node index.js", "/tmp/p.sh",
	// "10.62.9.2:4444".
	Label string    `json:"label"`
	Class PathClass `json:"class,omitempty"`
	// Process nodes.
	PID   int    `json:"pid,omitempty"`
	Exe   string `json:"exe,omitempty"`
	Argv0 string `json:"argv0,omitempty"`
	// File nodes: the path as seen; Label is the normalised form.
	Path string `json:"path,omitempty"`
	// Socket nodes.
	Addr  string `json:"addr,omitempty"`
	Proto string `json:"proto,omitempty"`
	DNS   string `json:"dns,omitempty"`
	// Flow data joined from pcap for socket nodes.
	Packets int   `json:"packets,omitempty"`
	Bytes   int64 `json:"bytes,omitempty"`
	// Written marks a file this container wrote, created, renamed into
	// place or made executable since the tracer attached, in this graph or
	// an earlier one: executing such a file is drift from the image.
	Written bool `json:"written,omitempty"`
	// Spawned is, on a process node, the call id of the invocation in
	// which the process (or its first traced ancestor) was started; empty
	// for the container's own processes. A process of a background graph
	// with Spawned set outlived the invocation that started it.
	Spawned string `json:"spawned,omitempty"`
	// Folded is, on a node that compaction made (see Compact), how many
	// nodes it stands for; 0 on every node the builder made. A folded file
	// node's Label and Path are a template ("/tmp/wN") or a glob
	// ("/tmp/*", "/usr/**") of theirs, a folded process's Label the
	// template of their command lines; Examples holds a few of their paths
	// (command lines) as seen.
	Folded   int      `json:"folded,omitempty"`
	Examples []string `json:"examples,omitempty"`
}

// Edge is one relation, merged over repeats: Count calls between First and
// Last, moving Bytes.
type Edge struct {
	Src   int       `json:"src"`
	Dst   int       `json:"dst"`
	Kind  EdgeKind  `json:"kind"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	Count int       `json:"count"`
	Bytes int64     `json:"bytes,omitempty"`
}

// Window says what span of a container's life a graph covers.
type Window string

const (
	WindowInvocation Window = "invocation" // one X-Call-Id
	WindowBackground Window = "background" // between invocations
)

// ChunkRef names a chunk a graph was built from.
type ChunkRef struct {
	Stream string `json:"stream"`
	Kind   string `json:"kind"`
	Seq    uint64 `json:"seq"`
}

// Gap is a run of missing chunks in a stream: From..To inclusive.
type Gap struct {
	Stream string `json:"stream"`
	From   uint64 `json:"from"`
	To     uint64 `json:"to"`
}

// Graph is the JSON contract between faasmon-graph, faasmon-classify, the
// lab's dataset and the model tools.
type Graph struct {
	Version   int    `json:"version"`
	ID        string `json:"id"`
	Function  string `json:"function"`
	Namespace string `json:"namespace,omitempty"`
	Node      string `json:"node,omitempty"` // the machine
	Pod       string `json:"pod,omitempty"`
	Container string `json:"container,omitempty"`
	// Image is the container's code version (chunk.Header.Image), when
	// the tracer knows it.
	Image  string     `json:"image,omitempty"`
	Window Window     `json:"window"`
	CallID string     `json:"call_id,omitempty"`
	Start  time.Time  `json:"start"`
	End    time.Time  `json:"end"`
	Nodes  []Node     `json:"nodes"`
	Edges  []Edge     `json:"edges"`
	Chunks []ChunkRef `json:"chunks,omitempty"`
	Gaps   []Gap      `json:"gaps,omitempty"`
	// Blind are the limits hit for this container since its previous
	// graph (tracer drops and restarts, a state reset, a full table): what
	// the detector could not see. Each becomes a blind-spot finding.
	Blind []BlindSpot `json:"blind,omitempty"`
	// Acts are the security-relevant calls the edges do not model:
	// attempts that the kernel refused (an unprivileged attacker's intent,
	// kept with path, flags and errno) and calls outside the provenance
	// relations (ptrace, set*id, mount, unshare, memfd_create, raw and
	// packet sockets, bind, listen, link, truncate). The runtime invariants
	// read them; the GNN does not, so its inputs are what they were.
	Acts []Act `json:"acts,omitempty"`
	// Requests are the HTTP request lines the pcap stream saw in the
	// graph's window (no headers, no bodies): the invocation's own
	// request, and requests the function made; at most MaxRequests.
	Requests []Request `json:"requests,omitempty"`
	// Compacted says the graph was compacted to fit a bound (see
	// Compact): file nodes folded into template nodes, evidence kept.
	// Truncated lists the bounds at which the graph lost detail outright
	// (the builder's node cap, the queue's size limit after compaction).
	// Both are nil on a graph that lost nothing; a verdict on a graph
	// with either says so (pkg/classify/detect).
	Compacted *Compaction  `json:"compacted,omitempty"`
	Truncated []Truncation `json:"truncated,omitempty"`
	// Label and Scenario are set only in labelled datasets ("benign" or
	// "attack"; the scenario name).
	Label    string `json:"label,omitempty"`
	Scenario string `json:"scenario,omitempty"`
}

// Act is one security-relevant call (see Graph.Acts), merged over repeats
// of the same process, call, object and result.
type Act struct {
	Proc    int    `json:"proc"` // the process node
	Syscall string `json:"syscall"`
	// Path is the file the call named, as seen; Class and Label its class
	// and normalised form (as on file nodes). Path2 is a second path
	// (link's new name, mount's source).
	Path  string    `json:"path,omitempty"`
	Class PathClass `json:"class,omitempty"`
	Label string    `json:"label,omitempty"`
	Path2 string    `json:"path2,omitempty"`
	// Arg is what else the call asked, as strace printed it: open flags,
	// ptrace request, ids, CLONE_* flags, socket family, mount type.
	Arg    string    `json:"arg,omitempty"`
	Mode   uint32    `json:"mode,omitempty"`
	Target int       `json:"target,omitempty"` // ptrace/kill target pid
	Local  string    `json:"local,omitempty"`  // bind/listen address
	Errno  string    `json:"errno,omitempty"`  // "" when it succeeded
	First  time.Time `json:"first"`
	Count  int       `json:"count"`
}

// Request is one HTTP request line of a graph's window.
type Request struct {
	Method string `json:"method"`
	Host   string `json:"host,omitempty"`
	Path   string `json:"path"`
	// Outbound marks a request the function made, not the one it served.
	Outbound bool `json:"outbound,omitempty"`
}

// Compaction records what Compact folded: the graph's size before, and how
// many file nodes went into how many folded nodes.
type Compaction struct {
	Nodes int `json:"nodes"` // nodes before
	Edges int `json:"edges"` // edges before
	Bytes int `json:"bytes"` // encoded size before
	// Folded nodes became Into nodes (each with Node.Folded set).
	Folded int `json:"folded"`
	Into   int `json:"into"`
	// Acts is how many acts were folded away: refused calls of one
	// process that differ only in the file, in one directory or tree.
	Acts int `json:"acts,omitempty"`
	// Level is the coarsest folding that was needed: "template" (same
	// path template), "dir" (same directory), "process" (short-lived
	// processes of one parent alike) or "tree" (same ancestor).
	Level string `json:"level"`
}

// Truncation is one bound at which a graph lost detail.
type Truncation struct {
	// Reason is TruncNodeCap or TruncQueueLimit.
	Reason string `json:"reason"`
	// Limit is the bound: nodes for the node cap, bytes for the queue.
	Limit int `json:"limit"`
	// Nodes, Edges, Acts and Chunks count what was lost: for the node
	// cap, the nodes not created (their events went to an overflow node
	// of their kind, see OverflowLabel) and the edges not created; for
	// the queue limit, what was cut after compaction.
	Nodes  int `json:"nodes,omitempty"`
	Edges  int `json:"edges,omitempty"`
	Acts   int `json:"acts,omitempty"`
	Chunks int `json:"chunks,omitempty"`
}

// Truncation reasons: TruncNodeCap is the builder's bounds (MaxNodes
// nodes; Edges counts the edges refused at MaxEdges under the same
// record), TruncQueueLimit the cut Compact makes when folding was not
// enough.
const (
	TruncNodeCap    = "node-cap"
	TruncQueueLimit = "queue-limit"
)

// MaxRequests bounds Graph.Requests.
const MaxRequests = 64

// MaxActs bounds Graph.Acts: repeats merge, and a flood of distinct
// attempts beyond it is counted in the graph's last act (Count) rather
// than kept.
const MaxActs = 1024

// Limits bound what a Graph may hold. They are generous for a single
// invocation (a busy Node.js invocation is a few hundred nodes) and keep one
// request's memory bounded. MaxNodes is the one node cap of the flow: the
// builder never creates more (see Truncation), and faasmon-classify and
// faasmon-alert accept exactly this many (20,000 nodes classify in well
// under a second on one core). Before, the builder allowed 50,000 while
// classify refused over 20,000: a graph between the two was built, then
// refused, and no verdict said so.
const (
	MaxNodes = 20000
	MaxEdges = 200000
)

// ErrInvalid marks every validation failure, for errors.Is in HTTP adapters.
var ErrInvalid = errors.New("invalid graph")

var (
	validNodeKind = map[NodeKind]bool{}
	validEdgeKind = map[EdgeKind]bool{}
)

func init() {
	for _, k := range NodeKinds {
		validNodeKind[k] = true
	}
	for _, k := range EdgeKinds {
		validEdgeKind[k] = true
	}
}

// Validate checks what a consumer relies on: the version, the bounds, node
// ids equal to their index, kinds known and edges pointing at nodes.
func (g *Graph) Validate() error { return g.validate(true) }

// validate is Validate; bounds false skips the node and edge limits, for
// Compact, whose job is to bring a graph within them.
func (g *Graph) validate(bounds bool) error {
	if g.Version != SchemaVersion {
		return fmt.Errorf("%w: schema version %d, want %d", ErrInvalid, g.Version, SchemaVersion)
	}
	if bounds && len(g.Nodes) > MaxNodes {
		return fmt.Errorf("%w: %d nodes, limit %d", ErrInvalid, len(g.Nodes), MaxNodes)
	}
	if bounds && len(g.Edges) > MaxEdges {
		return fmt.Errorf("%w: %d edges, limit %d", ErrInvalid, len(g.Edges), MaxEdges)
	}
	for i, n := range g.Nodes {
		if n.ID != i {
			return fmt.Errorf("%w: node %d has id %d", ErrInvalid, i, n.ID)
		}
		if !validNodeKind[n.Kind] {
			return fmt.Errorf("%w: node %d has unknown kind %q", ErrInvalid, i, n.Kind)
		}
	}
	for i, e := range g.Edges {
		if e.Src < 0 || e.Src >= len(g.Nodes) || e.Dst < 0 || e.Dst >= len(g.Nodes) {
			return fmt.Errorf("%w: edge %d (%d→%d) points outside %d nodes", ErrInvalid, i, e.Src, e.Dst, len(g.Nodes))
		}
		if !validEdgeKind[e.Kind] {
			return fmt.Errorf("%w: edge %d has unknown kind %q", ErrInvalid, i, e.Kind)
		}
		if e.Count < 1 {
			return fmt.Errorf("%w: edge %d has count %d", ErrInvalid, i, e.Count)
		}
	}
	if len(g.Requests) > MaxRequests {
		return fmt.Errorf("%w: %d requests, limit %d", ErrInvalid, len(g.Requests), MaxRequests)
	}
	if len(g.Blind) > MaxBlind {
		return fmt.Errorf("%w: %d blind spots, limit %d", ErrInvalid, len(g.Blind), MaxBlind)
	}
	for _, b := range g.Blind {
		if err := b.validate(); err != nil {
			return err
		}
	}
	if len(g.Acts) > MaxActs {
		return fmt.Errorf("%w: %d acts, limit %d", ErrInvalid, len(g.Acts), MaxActs)
	}
	for i, a := range g.Acts {
		if a.Proc < 0 || a.Proc >= len(g.Nodes) || g.Nodes[a.Proc].Kind != NodeProcess {
			return fmt.Errorf("%w: act %d (%s) names node %d, not a process", ErrInvalid, i, a.Syscall, a.Proc)
		}
		if a.Syscall == "" || a.Count < 1 {
			return fmt.Errorf("%w: act %d has syscall %q and count %d", ErrInvalid, i, a.Syscall, a.Count)
		}
	}
	return nil
}
