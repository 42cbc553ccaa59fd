// Package fnhttp holds the HTTP conventions every faasmon function follows,
// so that handler.go files stay thin: bounded request bodies, JSON answers,
// and errors as {"error": "..."} with a status that says whose fault it is.
// Untrusted sizes are refused before decoding: ReadBody bounds the bytes,
// CheckArrays the elements a JSON body would build (413 for both).
//
// It serves all four function stages of the flow tracer → parse → graph →
// classify → alert (parse, graph, classify, alert).
package fnhttp
