// Command faasmon-stack runs the local OpenFaaS stack (real gateway, NATS
// Streaming, queue-worker and Prometheus, plus faasmon's local provider) and
// deploys stack.yml files to it without Docker or faas-cli.
//
//	faasmon-stack up                 start (or check) the stack
//	faasmon-stack down               stop it, remove every netns/veth it made
//	faasmon-stack status             one line per component
//	faasmon-stack deploy -f stack.yml [--filter GLOB] [--secrets-dir DIR]
//	faasmon-stack provider           the provider process (started by up)
//
// The state dir is /tmp/faasmon-stack unless FAASMON_STACK_DIR is set.
//
// Development tooling, not shipped: it hosts the flow tracer → parse → graph
// → classify → alert on one machine; its provider side is internal/dev/localstack.
package main
