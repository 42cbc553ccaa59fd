// Package features turns a provenance.Graph into the numeric input of the GNN
// (pkg/classify/gnn): one dense feature row per node and a typed adjacency (CSR) per
// edge kind. The layout is versioned by SchemaVersion; a model file records
// the version it was trained with and refuses any other (model/README.md).
//
// # Node feature layout (SchemaVersion 1, Dim = 112 columns, float32)
//
//	[  0,   4)  node kind, one-hot, in provenance.NodeKinds order
//	            (process, file, socket, pipe).
//	[  4,  18)  path class, one-hot, in PathClasses order (13 classes of
//	            provenance) plus column 17 = "no class" (empty Class). A
//	            Class string that is not one of the 13 counts as "other".
//	[ 18,  82)  feature-hashed tokens (HashBuckets = 64), signed hashing:
//	            for each token t (see Tokens), h = FNV-1a-32(t); column
//	            18 + h%64 gets +1 if bit 31 of h is 0, else -1. The block is
//	            then scaled by 1/sqrt(#tokens) so that its norm is about 1
//	            whatever the label length. Tokens come from the normalised
//	            Label, Exe, Argv0, DNS and Proto of the node, each field with
//	            its own prefix ("l:", "e:", "a:", "d:", "p:"), so "node" as
//	            an executable and "node" in a path hash differently.
//	[ 82, 106)  degree per edge kind: for kind k (provenance.EdgeKinds
//	            order), column 82+2k = log1p(#edges of kind k into the node),
//	            82+2k+1 = log1p(#edges of kind k out of the node). Edges are
//	            counted after merging duplicates (same src, dst, kind).
//	[106, 112)  volume: log1p(Σ Count of incoming edges),
//	            log1p(Σ Count of outgoing edges),
//	            log1p(Σ Bytes of incoming edges)/4,
//	            log1p(Σ Bytes of outgoing edges)/4,
//	            log1p(Packets)/4, log1p(node Bytes)/4 (socket flow data).
//	            Byte-sized quantities are divided by 4 so that every column
//	            stays within about [0, 6].
//
// # Token normalisation (Tokens)
//
// A string is lower-cased, every run of ASCII digits becomes "0" (PIDs,
// random temp names, IP octets and ephemeral ports do not fragment the
// vocabulary), and it is split on every character that is not a letter or a
// digit. Each part is a token; for a string containing '/', the base name
// (after the last '/') is also a token "b:<base>" and its extension
// "x:<ext>". For socket nodes the port of Addr (or Label) is a token
// "port:<n>" when below 1024, else "port:reg" (1024..32767) or "port:eph".
//
// # Adjacency
//
// Adj[k] (k in provenance.EdgeKinds order) is a CSR over source nodes: for
// node s, Col[RowPtr[s]:RowPtr[s+1]] are the distinct destinations of edges
// s→d of kind k, sorted ascending, with Count the summed edge counts and Edge
// the index in Graph.Edges of the first such edge (for explanations).
//
// Everything here is deterministic: the same graph gives bit-identical
// output.
//
// It is the first half of the classify stage of the flow tracer → parse →
// graph → classify → alert: graph in, GNN input out.
package features
