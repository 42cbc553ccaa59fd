package fnhttptest

import (
	"bytes"
	"io"
	"strconv"
)

// TinyNodes is a graph body of n nodes of a few bytes each: small on the
// wire, about 200 bytes each once decoded.
func TinyNodes(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"version":1,"nodes":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":`)
		b.WriteString(strconv.Itoa(i))
		b.WriteByte('}')
	}
	b.WriteString(`],"edges":[]}`)
	return b.Bytes()
}

// Endless yields N bytes of '[' then '{"id":0},' repeated, never held in
// memory at once.
type Endless struct{ N, off int64 }

func (e *Endless) Read(p []byte) (int, error) {
	if e.off >= e.N {
		return 0, io.EOF
	}
	const unit = `{"id":0},`
	k := 0
	for k < len(p) && e.off < e.N {
		if e.off == 0 {
			p[k] = '['
		} else {
			p[k] = unit[(e.off-1)%int64(len(unit))]
		}
		k++
		e.off++
	}
	return k, nil
}
