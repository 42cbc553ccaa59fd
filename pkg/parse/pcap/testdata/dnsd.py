#!/usr/bin/env python3
"""Tiny fake DNS responder for test captures: answers every A query with
10.99.0.77 and everything else with an empty NOERROR. Never forwards."""
import socket, struct, sys
addr = sys.argv[1] if len(sys.argv) > 1 else "10.99.0.1"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, 53))
while True:
    q, peer = s.recvfrom(512)
    if len(q) < 12:
        continue
    i = 12
    while i < len(q) and q[i] != 0:
        i += q[i] + 1
    qend = i + 5
    qtype = struct.unpack("!H", q[i+1:i+3])[0]
    ans = b""
    an = 0
    if qtype == 1:
        ans = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("10.99.0.77")
        an = 1
    hdr = q[:2] + b"\x81\x80" + struct.pack("!HHHH", 1, an, 0, 0)
    s.sendto(hdr + q[12:qend] + ans, peer)
