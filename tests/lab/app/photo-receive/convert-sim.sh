#!/bin/sh
# convert-sim: the lab's stand-in for an image converter (ImageMagick's
# convert in a real photo service). Usage: convert-sim.sh --to FORMAT SRC DST
# It checks the format, writes DST as a small header (format, size, sha256)
# followed by the source bytes, and prints "DST FORMAT SIZE".
set -eu
[ "$1" = "--to" ] || { echo "usage: convert-sim.sh --to FORMAT SRC DST" >&2; exit 2; }
to=$2 src=$3 dst=$4
case "$to" in
  png|jpg|jpeg|webp|gif|tiff) ;;
  *) echo "unsupported format: $to" >&2; exit 2 ;;
esac
size=$(wc -c < "$src")
sum=$(sha256sum "$src" | cut -d' ' -f1)
{ printf 'SIMIMG %s %s %s\n' "$to" "$size" "$sum"; cat "$src"; } > "$dst"
echo "$dst $to $size"
