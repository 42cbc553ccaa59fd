package strace

// Read is read for the external tests (which parse through pkg/parse/ingest,
// and ingest imports this package).
var Read = read
