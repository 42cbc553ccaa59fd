// Package invariant holds faasmon's runtime invariants: rules that need no
// learning, each mapped to a MITRE ATT&CK technique, that hold for any
// function container and whose violation is an attack or an attempt at one
// (writing the function's own code after start, reading credential stores,
// planting persistence, executing what the container wrote itself, ptrace,
// raw sockets, set*id, namespace calls, clearing logs and history, a
// process that outlives its invocation).
//
// It sits in the classify stage, beside the GNN and the per-function
// profiles: faasmon-classify runs Check on every provenance graph, and a
// verdict is an attack when any part finds one. Rules read the graph's
// nodes and edges and its acts (provenance.Act): the attempts the kernel
// refused, because functions run unprivileged and most attacks fail at the
// syscall, and the security-relevant calls the provenance relations do not
// model. Every Finding names the rule, its technique and tactic, and what
// happened in words.
//
// The rules are a table (Rules); docs/invariants.md lists them. Each was
// written from the technique it names, as runtime-security rule sets write
// theirs, never from a test of the evaluation sets (Atomic Red Team, the
// public functions): those measure the rules, they do not shape them.
package invariant
