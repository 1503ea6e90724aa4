#!/usr/bin/env python3
"""The disk's fsync bound: write 4 KiB and fsync, COUNT times, in DIR."""
import os
import sys
import time

d, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000
path = os.path.join(d, "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
block = os.urandom(4096)
start = time.monotonic()
for _ in range(count):
    os.write(fd, block)
    os.fsync(fd)
elapsed = time.monotonic() - start
os.close(fd)
os.unlink(path)
print(f"fsync rate: {count / elapsed:.0f} fsyncs/s ({count} writes of 4 KiB)")
