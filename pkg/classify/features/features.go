package features

import (
	"fmt"
	"hash/fnv"
	"math"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/faasmon/faasmon/pkg/graph/provenance"
)

// SchemaVersion is the version of the feature layout described in the
// package comment. Bump it on any change of columns, order, tokenisation or
// scaling: models trained on another version are refused.
const SchemaVersion = 1

// HashBuckets is the width of the hashed-token block.
const HashBuckets = 64

// PathClasses is the fixed order of the path-class one-hot block.
var PathClasses = []provenance.PathClass{
	provenance.ClassFuncDir, provenance.ClassTmp, provenance.ClassProc,
	provenance.ClassSecrets, provenance.ClassSysLib, provenance.ClassSysBin,
	provenance.ClassEtc, provenance.ClassDev, provenance.ClassHome,
	provenance.ClassOther, provenance.ClassInternal, provenance.ClassExternal,
	provenance.ClassLoopback,
}

// Column offsets of the blocks.
var (
	OffKind    = 0
	OffClass   = OffKind + len(provenance.NodeKinds)
	OffHash    = OffClass + len(PathClasses) + 1
	OffDegree  = OffHash + HashBuckets
	OffVolume  = OffDegree + 2*len(provenance.EdgeKinds)
	NumVolume  = 6
	Dim        = OffVolume + NumVolume
	NumRelKind = len(provenance.EdgeKinds)
)

var (
	kindIndex  = map[provenance.NodeKind]int{}
	classIndex = map[provenance.PathClass]int{}
	edgeIndex  = map[provenance.EdgeKind]int{}
)

func init() {
	for i, k := range provenance.NodeKinds {
		kindIndex[k] = i
	}
	for i, c := range PathClasses {
		classIndex[c] = i
	}
	for i, k := range provenance.EdgeKinds {
		edgeIndex[k] = i
	}
}

// CSR is a compressed sparse row adjacency over source nodes.
type CSR struct {
	RowPtr []int32 // len N+1
	Col    []int32 // destination node
	Count  []int32 // summed Edge.Count of the merged edges
	Edge   []int32 // index in Graph.Edges of the first merged edge
}

// Graph is the numeric form of one provenance graph.
type Graph struct {
	N int       // nodes
	X []float32 // N×Dim, row-major
	// Adj[k] is the adjacency of edge kind provenance.EdgeKinds[k].
	Adj [NumRelKindConst]CSR
}

// NumRelKindConst is len(provenance.EdgeKinds) as a constant (checked at
// init).
const NumRelKindConst = 12

func init() {
	if NumRelKindConst != len(provenance.EdgeKinds) {
		panic("features: NumRelKindConst out of date with provenance.EdgeKinds")
	}
}

// Row returns node i's feature row.
func (f *Graph) Row(i int) []float32 { return f.X[i*Dim : (i+1)*Dim] }

// Extract computes the features of g. It checks g.Validate first: graphs
// from outside must be valid before any index is trusted.
func Extract(g *provenance.Graph) (*Graph, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	n := len(g.Nodes)
	f := &Graph{N: n, X: make([]float32, n*Dim)}
	inDeg := make([]int32, n*NumRelKind)
	outDeg := make([]int32, n*NumRelKind)
	vol := make([]float64, n*4)

	// Merge edges per kind: key (src,dst).
	type key struct{ s, d int32 }
	type agg struct {
		count int64
		first int32
	}
	perKind := make([]map[key]*agg, NumRelKind)
	order := make([][]key, NumRelKind)
	for ei, e := range g.Edges {
		k := edgeIndex[e.Kind]
		if perKind[k] == nil {
			perKind[k] = map[key]*agg{}
		}
		kk := key{int32(e.Src), int32(e.Dst)}
		a := perKind[k][kk]
		if a == nil {
			a = &agg{first: int32(ei)}
			perKind[k][kk] = a
			order[k] = append(order[k], kk)
		}
		a.count += int64(e.Count)
		vol[e.Dst*4+0] += float64(e.Count)
		vol[e.Src*4+1] += float64(e.Count)
		if e.Bytes > 0 {
			vol[e.Dst*4+2] += float64(e.Bytes)
			vol[e.Src*4+3] += float64(e.Bytes)
		}
	}
	for k := 0; k < NumRelKind; k++ {
		keys := order[k]
		sort.Slice(keys, func(a, b int) bool {
			if keys[a].s != keys[b].s {
				return keys[a].s < keys[b].s
			}
			return keys[a].d < keys[b].d
		})
		c := CSR{RowPtr: make([]int32, n+1), Col: make([]int32, len(keys)),
			Count: make([]int32, len(keys)), Edge: make([]int32, len(keys))}
		for i, kk := range keys {
			a := perKind[k][kk]
			c.RowPtr[kk.s+1]++
			c.Col[i] = kk.d
			cnt := a.count
			if cnt > math.MaxInt32 {
				cnt = math.MaxInt32
			}
			c.Count[i] = int32(cnt)
			c.Edge[i] = a.first
			outDeg[int(kk.s)*NumRelKind+k]++
			inDeg[int(kk.d)*NumRelKind+k]++
		}
		for i := 0; i < n; i++ {
			c.RowPtr[i+1] += c.RowPtr[i]
		}
		f.Adj[k] = c
	}

	var toks []string
	for i := range g.Nodes {
		nd := &g.Nodes[i]
		row := f.Row(i)
		row[OffKind+kindIndex[nd.Kind]] = 1
		switch {
		case nd.Class == "":
			row[OffClass+len(PathClasses)] = 1
		default:
			ci, ok := classIndex[nd.Class]
			if !ok {
				ci = classIndex[provenance.ClassOther]
			}
			row[OffClass+ci] = 1
		}
		toks = NodeTokens(nd, toks[:0])
		if len(toks) > 0 {
			s := float32(1 / math.Sqrt(float64(len(toks))))
			for _, t := range toks {
				b, sign := HashToken(t)
				row[OffHash+b] += sign * s
			}
		}
		for k := 0; k < NumRelKind; k++ {
			row[OffDegree+2*k] = float32(math.Log1p(float64(inDeg[i*NumRelKind+k])))
			row[OffDegree+2*k+1] = float32(math.Log1p(float64(outDeg[i*NumRelKind+k])))
		}
		v := row[OffVolume:]
		v[0] = float32(math.Log1p(vol[i*4+0]))
		v[1] = float32(math.Log1p(vol[i*4+1]))
		v[2] = float32(math.Log1p(vol[i*4+2]) / 4)
		v[3] = float32(math.Log1p(vol[i*4+3]) / 4)
		v[4] = float32(math.Log1p(math.Max(0, float64(nd.Packets))) / 4)
		v[5] = float32(math.Log1p(math.Max(0, float64(nd.Bytes))) / 4)
	}
	return f, nil
}

// HashToken maps a token to its bucket and sign (signed feature hashing).
func HashToken(t string) (bucket int, sign float32) {
	h := fnv.New32a()
	h.Write([]byte(t))
	v := h.Sum32()
	sign = 1
	if v>>31 == 1 {
		sign = -1
	}
	return int(v % HashBuckets), sign
}

// NodeTokens appends the tokens of node n to dst (see the package comment).
func NodeTokens(n *provenance.Node, dst []string) []string {
	dst = Tokens("l:", n.Label, dst)
	if n.Exe != "" {
		dst = Tokens("e:", n.Exe, dst)
	}
	if n.Argv0 != "" {
		dst = Tokens("a:", n.Argv0, dst)
	}
	if n.DNS != "" {
		dst = Tokens("d:", n.DNS, dst)
	}
	if n.Proto != "" {
		dst = Tokens("p:", n.Proto, dst)
	}
	if n.Kind == provenance.NodeSocket {
		addr := n.Addr
		if addr == "" {
			addr = n.Label
		}
		if _, p, err := net.SplitHostPort(addr); err == nil {
			if port, err := strconv.Atoi(p); err == nil && port >= 0 {
				switch {
				case port < 1024:
					dst = append(dst, "port:"+strconv.Itoa(port))
				case port < 32768:
					dst = append(dst, "port:reg")
				default:
					dst = append(dst, "port:eph")
				}
			}
		}
	}
	return dst
}

// Normalise lower-cases s and replaces every run of ASCII digits by "0".
func Normalise(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inDigits := false
	for _, r := range strings.ToLower(s) {
		if r >= '0' && r <= '9' {
			if !inDigits {
				b.WriteByte('0')
			}
			inDigits = true
			continue
		}
		inDigits = false
		b.WriteRune(r)
	}
	return b.String()
}

// Tokens appends prefix+token for every token of the normalised s to dst.
func Tokens(prefix, s string, dst []string) []string {
	if s == "" {
		return dst
	}
	ns := Normalise(s)
	start := -1
	for i, r := range ns {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127
		if alnum {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			dst = append(dst, prefix+ns[start:i])
			start = -1
		}
	}
	if start >= 0 {
		dst = append(dst, prefix+ns[start:])
	}
	if j := strings.LastIndexByte(ns, '/'); j >= 0 && j+1 < len(ns) {
		base := ns[j+1:]
		dst = append(dst, prefix+"b:"+base)
		if k := strings.LastIndexByte(base, '.'); k > 0 && k+1 < len(base) {
			dst = append(dst, prefix+"x:"+base[k+1:])
		}
	}
	return dst
}

// Describe returns the name of feature column c, for documentation and
// explanations.
func Describe(c int) string {
	switch {
	case c < 0 || c >= Dim:
		return fmt.Sprintf("col%d", c)
	case c < OffClass:
		return "kind=" + string(provenance.NodeKinds[c-OffKind])
	case c < OffHash:
		if c-OffClass == len(PathClasses) {
			return "class=none"
		}
		return "class=" + string(PathClasses[c-OffClass])
	case c < OffDegree:
		return fmt.Sprintf("hash[%d]", c-OffHash)
	case c < OffVolume:
		k := (c - OffDegree) / 2
		dir := "in"
		if (c-OffDegree)%2 == 1 {
			dir = "out"
		}
		return fmt.Sprintf("deg_%s_%s", dir, provenance.EdgeKinds[k])
	default:
		return [...]string{"count_in", "count_out", "bytes_in", "bytes_out", "packets", "flow_bytes"}[c-OffVolume]
	}
}
