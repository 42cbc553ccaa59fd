// Package hopauth authenticates the messages that pass between faasmon's
// stages: tracer → faasmon-parse (chunks), parse → faasmon-graph (event
// batches), graph → faasmon-classify (graphs) and classify → faasmon-alert
// (verdicts, through the queue-worker's callback and the outbox).
//
// Every hop goes through the OpenFaaS gateway, whose CE edition guards only
// /system/*, and through NATS Streaming, which has no auth: anyone on the
// network can queue a message for any detector function. So each sender
// puts an HMAC-SHA256 in X-Faasmon-Auth-* headers, computed over the
// message's kind, a key id, a timestamp, a random nonce, every X-Faasmon-*
// header it sends (the chunk headers), X-Callback-Url and the SHA-256 of the
// body; each receiver recomputes it with the same key and refuses what is
// unsigned (401), signed with an unknown key, forged or altered (403), or
// older than the window (403, stale).
//
// The key is a per-deployment OpenFaaS secret (SecretName), one
// "id:secret" line per key: the first line signs, every line verifies, so a
// key can be rotated without a gap (see README.md). The file is re-read when
// it changes, as Kubernetes updates mounted secrets in place.
//
// Replays inside the window are accepted on purpose: a replayed chunk or
// event batch carries a sequence number its stream already has
// (faasmon-graph ignores it as a duplicate), a replayed graph gives the same
// verdict again, and a replayed verdict is suppressed by faasmon-alert's
// dedupe and ledger of handled graphs. No nonce store is needed for that,
// which keeps every stage stateless towards authentication.
package hopauth
