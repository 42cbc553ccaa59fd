// Command faasmon is the user's command line for what faasmon learnt about
// their functions (the behaviour profiles of pkg/classify/profile) and for what it
// found (the alerts faasmon-alert publishes on the queue).
//
//	faasmon profile show   [-dir D] [FUNCTION[@VERSION]...]
//	faasmon profile export [-dir D] [-o FILE] [FUNCTION[@VERSION]...]
//	faasmon profile import [-dir D] [-dry-run] FILE|-
//	faasmon profile learn  [-dir D] [-version V] [-arm] GRAPH.json|DIR...
//	faasmon profile check  [-dir D] [-version V] GRAPH.json|DIR...
//	faasmon profile delete [-dir D] FUNCTION@VERSION...
//	faasmon alerts [-nats URL] [-cluster ID] [-channel C] [-all | -since D] [-n N] [-text]
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
// `faasmon alerts` subscribes to faasmon-alert's channel (faasmon-alerts)
// on the queue's NATS Streaming server from outside the platform and
// prints each alert (alert.Follow).
//
// It is the user's side of the classify and alert stages of the flow tracer
// → parse → graph → classify → alert: it reads and writes what
// faasmon-classify learns, and reads what faasmon-alert sends.
package main
