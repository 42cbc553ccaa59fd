package pcap

import (
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

type gopacketLayerType = gopacket.LayerType

// layerRawIP marks link types whose packets start with the IP header; the
// version nibble picks IPv4 or IPv6 per packet.
// It is never registered with gopacket and never decoded by it.
const layerRawIP gopacket.LayerType = -101

// firstLayer maps a pcap link type to the layer its packets start with.
func firstLayer(lt layers.LinkType) (gopacket.LayerType, bool) {
	switch lt {
	case layers.LinkTypeLinuxSLL2:
		return layers.LayerTypeLinuxSLL2, true
	case layers.LinkTypeLinuxSLL:
		return layers.LayerTypeLinuxSLL, true
	case layers.LinkTypeEthernet:
		return layers.LayerTypeEthernet, true
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return layers.LayerTypeLoopback, true
	case layers.LinkTypeRaw, 12, 14: // DLT_RAW is 12 or 14 on some systems
		return layerRawIP, true
	case layers.LinkTypeIPv4:
		return layers.LayerTypeIPv4, true
	case layers.LinkTypeIPv6:
		return layers.LayerTypeIPv6, true
	}
	return 0, false
}
