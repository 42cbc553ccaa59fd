// Package hoptest gives handler tests a hop key and the messages an
// attacker could send: unsigned, forged, stale, and signed with a retired
// key. It is for tests only.
package hoptest
