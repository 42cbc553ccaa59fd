// Package backendtest holds what the sensor backends' tests share: the
// root and binary check, a chunk collector, a wait, a target for a real
// process, and the check every stream's chunks must pass (in sequence,
// within the queue's limit, headers that parse). A test helper: nothing
// that ships links it (tests/shipped).
package backendtest
