// Package invoke is faasmon's one client of the OpenFaaS gateway: the base
// URL, function calls sync and async with their headers and query (signed
// with the hop key, pkg/hopauth, when the message is a detector's), the
// admin API with the basic auth it reads from the secret files OpenFaaS
// mounts (ReadBasicAuth), and bounded reading of every answer.
//
// It is the hop between stages of the flow tracer → parse → graph →
// classify → alert (parse → graph and graph → classify; the tracer's
// sender builds its go-sdk client with NewSDK), and the lab's and tests'
// way to call functions and drive the gateway.
package invoke
