package gnn

// Model file format (FormatVersion 1).
//
// Binary rather than JSON: the weights are float32 and are stored as their
// exact IEEE-754 bits (a JSON round trip of float32 through decimal is easy
// to get subtly wrong and triples the size), the file loads without parsing
// tens of thousands of numbers, and the checksum covers exactly the bytes
// that are used. Everything that is not a weight — hyperparameters, feature
// schema, thresholds, one-class statistics, the tensor table — is a JSON
// header inside the payload, readable with `tail -c +25 | head -c …` or
// `go run ./model/eval -model M -info`.
//
//	offset  size  field
//	0       8     magic "FAASMONM"
//	8       4     format version, uint32 little endian (1)
//	12      8     payload length P, uint64 little endian
//	20      P     payload:
//	                4  header length H, uint32 LE
//	                H  header, JSON (fileHeader)
//	                …  float32 LE: the supervised net's parameters, then
//	                   the one-class net's, in the tensor table's order
//	20+P    32    SHA-256 of the payload
//
// Load checks, in order: magic, format version, that the file is exactly
// 52+P bytes, the checksum, the header, the feature schema version and
// width, the relation count, both architectures, the tensor table against
// the architectures, the weight count, that every weight is finite, and the
// one-class statistics' dimensions. It fails with an error naming what is
// wrong and never panics (FuzzLoad).

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/faasmon/faasmon/pkg/classify/features"
)

// FormatVersion is the version of the model file layout.
const FormatVersion = 1

// MaxModelBytes bounds what Load reads.
const MaxModelBytes = 256 << 20

var magic = [8]byte{'F', 'A', 'A', 'S', 'M', 'O', 'N', 'M'}

// ErrBadModel marks every refusal of Load, for errors.Is.
var ErrBadModel = errors.New("gnn: bad model file")

type tensorEntry struct {
	Name string `json:"name"`
	Rows int    `json:"rows"`
	Cols int    `json:"cols"`
}

type fileHeader struct {
	Meta     Meta           `json:"meta"`
	OneClass *OneClassStats `json:"one_class,omitempty"`
	Tensors  []tensorEntry  `json:"tensors"`
}

func tensorTable(ts []tensor, prefix string) []tensorEntry {
	out := make([]tensorEntry, len(ts))
	for i, t := range ts {
		out[i] = tensorEntry{Name: prefix + t.Name, Rows: t.Rows, Cols: t.Cols}
	}
	return out
}

// Marshal encodes the model in the file format.
func (m *Model) Marshal() ([]byte, error) {
	h := fileHeader{Meta: m.Meta, Tensors: tensorTable(m.sup.tensors, "sup.")}
	if m.oc != nil {
		h.OneClass = m.OneClass
		h.Tensors = append(h.Tensors, tensorTable(m.oc.tensors, "oc.")...)
	}
	hj, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("gnn: encoding model header: %w", err)
	}
	var p bytes.Buffer
	binary.Write(&p, binary.LittleEndian, uint32(len(hj)))
	p.Write(hj)
	w := func(xs []float32) {
		buf := make([]byte, 4*len(xs))
		for i, v := range xs {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		p.Write(buf)
	}
	w(m.sup.P)
	if m.oc != nil {
		w(m.oc.P)
	}
	payload := p.Bytes()
	sum := sha256.Sum256(payload)
	var out bytes.Buffer
	out.Write(magic[:])
	binary.Write(&out, binary.LittleEndian, uint32(FormatVersion))
	binary.Write(&out, binary.LittleEndian, uint64(len(payload)))
	out.Write(payload)
	out.Write(sum[:])
	m.version = versionString(sum)
	return out.Bytes(), nil
}

func versionString(sum [32]byte) string {
	return fmt.Sprintf("f%d-%s", features.SchemaVersion, hex.EncodeToString(sum[:6]))
}

// Save writes the model to path (via a temporary file and rename).
func (m *Model) Save(path string) error {
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// LoadFile reads a model file.
func LoadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := Load(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Load reads a model (see the format above) from r.
func Load(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxModelBytes+1))
	if err != nil {
		return nil, err
	}
	return Unmarshal(data)
}

func bad(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrBadModel}, a...)...)
}

// Unmarshal decodes a model file held in memory.
func Unmarshal(data []byte) (*Model, error) {
	const fixed = 8 + 4 + 8 + 32
	if len(data) > MaxModelBytes {
		return nil, bad("larger than %d bytes", MaxModelBytes)
	}
	if len(data) < fixed {
		return nil, bad("%d bytes, too short for a model file", len(data))
	}
	if !bytes.Equal(data[:8], magic[:]) {
		return nil, bad("not a faasmon model (magic %q)", data[:8])
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != FormatVersion {
		return nil, bad("format version %d, this build reads %d", v, FormatVersion)
	}
	plen := binary.LittleEndian.Uint64(data[12:])
	if plen != uint64(len(data)-fixed) {
		return nil, bad("payload length %d but the file holds %d (truncated or padded)", plen, len(data)-fixed)
	}
	payload := data[20 : 20+plen]
	var want [32]byte
	copy(want[:], data[20+plen:])
	sum := sha256.Sum256(payload)
	if sum != want {
		return nil, bad("checksum mismatch (file corrupt)")
	}
	if len(payload) < 4 {
		return nil, bad("payload too short")
	}
	hlen := uint64(binary.LittleEndian.Uint32(payload))
	if hlen > uint64(len(payload)-4) {
		return nil, bad("header length %d exceeds payload", hlen)
	}
	var h fileHeader
	dec := json.NewDecoder(bytes.NewReader(payload[4 : 4+hlen]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		return nil, bad("header: %v", err)
	}
	meta := h.Meta
	if meta.FeatureSchema != features.SchemaVersion {
		return nil, bad("trained on feature schema %d, this build extracts schema %d: retrain the model", meta.FeatureSchema, features.SchemaVersion)
	}
	if meta.FeatureDim != features.Dim || meta.Arch.InDim != features.Dim {
		return nil, bad("feature width %d (arch %d), this build extracts %d", meta.FeatureDim, meta.Arch.InDim, features.Dim)
	}
	if meta.NumRel != NumRel {
		return nil, bad("%d relations, this build has %d", meta.NumRel, NumRel)
	}
	if err := meta.Arch.validate(); err != nil || meta.Arch.HeadHidden == 0 || meta.Arch.Classes != 2 || meta.Arch.NoBias {
		return nil, bad("supervised architecture %+v is not a 2-class classifier", meta.Arch)
	}
	if !(meta.Threshold > 0 && meta.Threshold < 1) {
		return nil, bad("supervised threshold %v outside (0,1)", meta.Threshold)
	}
	m := &Model{Meta: meta, sup: newNetShape[float32](meta.Arch)}
	want2 := tensorTable(m.sup.tensors, "sup.")
	if oc := h.OneClass; oc != nil {
		if err := oc.Arch.validate(); err != nil || oc.Arch.HeadHidden != 0 || !oc.Arch.NoBias || oc.Arch.InDim != features.Dim {
			return nil, bad("one-class architecture %+v invalid", oc.Arch)
		}
		m.oc = newNetShape[float32](oc.Arch)
		m.OneClass = oc
		want2 = append(want2, tensorTable(m.oc.tensors, "oc.")...)
		if err := oc.check(); err != nil {
			return nil, err
		}
	}
	if len(h.Tensors) != len(want2) {
		return nil, bad("%d tensors, the architecture has %d", len(h.Tensors), len(want2))
	}
	for i, t := range h.Tensors {
		if t != want2[i] {
			return nil, bad("tensor %d is %s %d×%d, the architecture wants %s %d×%d", i, t.Name, t.Rows, t.Cols, want2[i].Name, want2[i].Rows, want2[i].Cols)
		}
	}
	body := payload[4+hlen:]
	n := len(m.sup.P)
	if m.oc != nil {
		n += len(m.oc.P)
	}
	if uint64(len(body)) != 4*uint64(n) {
		return nil, bad("%d weight bytes, the architecture needs %d", len(body), 4*n)
	}
	read := func(dst []float32, off int) error {
		for i := range dst {
			v := math.Float32frombits(binary.LittleEndian.Uint32(body[4*(off+i):]))
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return bad("weight %d is not finite", off+i)
			}
			dst[i] = v
		}
		return nil
	}
	if err := read(m.sup.P, 0); err != nil {
		return nil, err
	}
	if m.oc != nil {
		if err := read(m.oc.P, len(m.sup.P)); err != nil {
			return nil, err
		}
	}
	m.version = versionString(sum)
	return m, nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func (o *OneClassStats) check() error {
	e := o.Arch.EmbedDim()
	chk := func(name string, c Centroid) error {
		if len(c.Mean) != e {
			return bad("one-class centroid %s has %d dims, want %d", name, len(c.Mean), e)
		}
		if !(c.Scale > 0) || !finite(c.Scale) {
			return bad("one-class centroid %s scale %v", name, c.Scale)
		}
		for _, v := range c.Mean {
			if !finite(float64(v)) {
				return bad("one-class centroid %s not finite", name)
			}
		}
		return nil
	}
	if len(o.Centre) != e {
		return bad("one-class centre has %d dims, want %d", len(o.Centre), e)
	}
	if err := chk("global", o.Global); err != nil {
		return err
	}
	for fn, c := range o.PerFunction {
		if err := chk(fmt.Sprintf("%q", fn), c); err != nil {
			return err
		}
	}
	if !(o.Threshold > 0) || !finite(o.Threshold) {
		return bad("one-class threshold %v", o.Threshold)
	}
	return o.checkEgress()
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }
