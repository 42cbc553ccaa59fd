// Package profile learns what each function version normally does on the
// host and flags what it never did: per-function behaviour profiles, the
// generalisation of the egress baseline (pkg/classify/gnn/egress.go) to every
// dimension of a provenance graph.
//
// Where it sits in the flow: faasmon-graph emits provenance graphs
// (pkg/graph/provenance); faasmon-classify hands each graph, with the function's
// version, to a Learner. While a profile learns (its first
// Config.LearnGraphs benign graphs, or Config.LearnFor, whichever ends
// first) the graph is learnt and nothing is reported; the runtime
// invariants, the egress part and the GNN still judge it, and a graph they
// flag is not learnt. Once armed, the profile is frozen and every graph is
// checked: the deviations come back as verdict.Findings with Part
// verdict.PartProfile, Rule the dimension, and a Text that names the new
// behaviour and what the function does instead.
//
// Dimensions (see Extract): executables run and their parent image (exe,
// exec), command line shapes (argv), processes active outside any
// invocation (background), files and directories written, read, opened,
// deleted, renamed, chmod'ed (by path template: numbers, hashes, uuids and
// random names folded, see PathTemplate), remote servers reached by DNS
// name and address (endpoint), peers that connected in (inbound), HTTP
// request lines (request, when the caller has them: the graph does not
// carry them) and per-window counts (processes, executions, connections,
// files) far above the learnt maximum.
//
// A value never seen is a deviation only in a dimension that rarely shows
// new values: per dimension, the Good–Turing (leave-one-out) estimate of
// the probability that the next benign graph holds a value never seen —
// the share of learnt graphs holding a value no other graph holds — must
// be at most Config.MaxMissing (1%) over at least Config.MinGraphs (20)
// graphs, the egress baseline's rule. A function that legitimately varies
// in a dimension is not armed there. Every dimension keeps at most
// Config.MaxValues values and counts what it dropped; a dimension that hit
// the cap is not armed.
//
// Profiles are stored per function version in a Store (FileStore: one
// JSON file per profile, flock, atomic rename, fsync), so learning
// survives restarts and is shared by the replicas on a node, and are
// exported and imported as YAML (Export, Import) that a person reviews,
// edits and commits; cmd/faasmon is the command line.
//
// While a profile learns, faasmon-classify's Learner batches its writes
// (Learner.FlushGraphs, FlushEvery: 64 graphs or one second, and on
// SIGTERM): writing the whole profile, synced, for every graph was most
// of faasmon-classify's CPU on learning traffic. What is learnt is not
// evidence, so a crash may lose the last second of learning: the profile
// learns from later graphs instead, and arms later by as many graphs. The
// graph that arms a profile is written at once, and a flush applies the
// waiting graphs to the profile as stored then, so replicas sharing the
// store lose none of each other's learning. The file format, the versions
// kept per function and the bounds are those of FileStore, unchanged.
//
// What the graph does not show, and this package therefore cannot learn:
// listening sockets (the builder records no bind/listen; peers that
// connected in are learnt instead), whether an open created a file (the
// graph keeps no open flags: "write" is the closest), the request line
// (pcap sees it, the graph drops it; Extra carries it), and processes
// alive after the response within the invocation's own graph (the builder
// books their later activity to background windows, which is what the
// background dimension learns).
package profile
