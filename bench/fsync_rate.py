#!/usr/bin/env python3
"""The disk's fsync bound: write 4 KiB and fsync, COUNT times, in DIR.

  fsync_rate.py DIR [COUNT]   prints {"fsyncs_per_s": ..., ...} as JSON

DIR must be on the disk being measured (not tmpfs): a durable check-in cannot
be faster than the fsyncs it needs, so this is the bound that check-ins/s is
compared with.
"""
import json
import os
import sys
import time

BLOCK = 4096


def measure(directory, count=2000):
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        block = os.urandom(BLOCK)
        start = time.monotonic()
        for _ in range(count):
            os.write(fd, block)
            os.fsync(fd)
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
        os.unlink(path)
    return {"fsyncs_per_s": count / elapsed, "count": count, "block_bytes": BLOCK,
            "seconds": elapsed}


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: fsync_rate.py DIR [COUNT]")
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000)))
