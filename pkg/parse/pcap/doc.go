// Package pcap turns one chunk of pcap bytes, as `tcpdump -i any -U -w -
// -s 256` writes them inside a function's network namespace, into events:
// one KindFlow per TCP/UDP 5-tuple, one KindHTTP per HTTP/1.x request seen
// and one KindDNS per DNS question sent.
//
// Link types: Linux cooked v2 (what `-i any` writes), Linux cooked v1,
// Ethernet (a single interface, and Linux loopback), BSD null/loop and raw
// IP. Packets are decoded with gopacket's layers (DecodeFromBytes on reused
// layer values, no per-packet allocation).
//
// Input is untrusted: truncated or garbage bytes give an error and never a
// panic, and memory is bounded by Options (packets, flows, events per chunk)
// and by MaxCaptureLen per packet. No payload bytes are kept: only the HTTP
// method, Host, path (query string and fragment dropped, they can carry
// secrets), X-Call-Id and DNS question names and types.
//
// It is part of the parse stage of the flow tracer → parse → graph →
// classify → alert (pcap streams), used by pkg/parse/ingest.
package pcap
