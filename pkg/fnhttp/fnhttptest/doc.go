// Package fnhttptest holds the hostile bodies the function handlers' tests
// send (graphs of a million tiny nodes, bodies that never end), so that
// each handler is held to the same input. A test helper of the stages
// between parse and alert: no shipped binary imports it.
package fnhttptest
