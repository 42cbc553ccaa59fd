#!/usr/bin/env python3
"""Send one DNS query (name, type) to server:53 over UDP and print the reply size."""
import socket, struct, sys, random
server, name, qtype = sys.argv[1], sys.argv[2], {"A": 1, "AAAA": 28, "TXT": 16}[sys.argv[3]]
q = struct.pack("!HHHHHH", random.randint(0, 65535), 0x0100, 1, 0, 0, 0)
for label in name.split("."):
    q += bytes([len(label)]) + label.encode()
q += b"\x00" + struct.pack("!HH", qtype, 1)
fam = socket.AF_INET6 if ":" in server else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, (server, 53))
print(len(s.recv(512)))
