package streaming

// The channels faasmon uses on the queue server: their one home, so that
// the publishers (faasmon-classify, faasmon-alert), the consumers (alert's
// outbox consumer, the lab, `faasmon alerts`) and the docs agree. Each
// function can override its channel in its configuration.
const (
	// AlertChannel carries every alert faasmon-alert sends (alert.StanSink).
	AlertChannel = "faasmon-alerts"
	// VerdictChannel carries every valid verdict faasmon-alert receives,
	// without its graph (alert.StanVerdictLog): the audit trail the lab
	// evaluates.
	VerdictChannel = "faasmon-verdicts"
	// OutboxChannel carries faasmon-classify's attack verdicts to
	// faasmon-alert's durable queue group (pkg/outbox), the path that does
	// not depend on the queue-worker's callback.
	OutboxChannel = "faasmon-outbox"
)
