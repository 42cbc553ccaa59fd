package ebpf

import "encoding/binary"

var le = binary.LittleEndian
