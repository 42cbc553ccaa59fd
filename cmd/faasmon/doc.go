// Command faasmon is the user's command line for what faasmon learnt about
// their functions: the behaviour profiles of pkg/profile.
//
//	faasmon profile show   [-dir D] [FUNCTION[@VERSION]...]
//	faasmon profile export [-dir D] [-o FILE] [FUNCTION[@VERSION]...]
//	faasmon profile import [-dir D] [-dry-run] FILE|-
//	faasmon profile learn  [-dir D] [-version V] [-arm] GRAPH.json|DIR...
//	faasmon profile check  [-dir D] [-version V] GRAPH.json|DIR...
//	faasmon profile delete [-dir D] FUNCTION@VERSION...
//
// One command with subcommands rather than a faasmon-profile binary: the
// user-facing verbs of faasmon (profiles today, invariants and the
// benchmark next) belong under one name, as with falco or tetragon's
// tetra; the faasmon-* commands are the pipeline's stages and tools.
//
// D is the directory faasmon-classify keeps profiles in ($FAASMON_PROFILE_DIR,
// default /var/tmp/faasmon/profiles, faasmon-classify's profile_dir in
// stack.yml: on the local stack the functions' /var/tmp is the host's).
//
// It is the user's side of the classify stage of the flow tracer → parse →
// graph → classify → alert: it reads and writes what faasmon-classify learns.
package main
