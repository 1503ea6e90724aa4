#!/usr/bin/env python3
"""The benchmark corpus: random (incompressible) files from a fixed seed.

Generated at run time into the work directory and never committed, so that
Custos, restic, borg and nginx all read the same bytes in the same run:
  small/   COUNT files of 64 KiB  (check-ins/s, files/s, reads/s)
  large/   COUNT files of 16 MiB  (MB/s)
  big.bin  one file of 1 GiB      (peak RSS during upload and download)

  corpus.py DIR [--quick]   writes the corpus and prints its description as JSON
"""
import json
import os
import random
import sys

SEED = 20261126
CHUNK = 4 << 20

FULL = {"small": (2000, 64 << 10), "large": (20, 16 << 20), "big": 1 << 30}
QUICK = {"small": (300, 64 << 10), "large": (4, 16 << 20), "big": 256 << 20}


def _write(path, rng, size):
    # Streamed in chunks: the 1 GiB file never sits in memory.
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(CHUNK, left)
            f.write(rng.randbytes(n))
            left -= n


def _write_set(root, name, count, size, seed):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    rng = random.Random(seed)
    names = []
    for i in range(count):
        rel = f"{name}/{name[0]}{i:05d}.bin"
        _write(os.path.join(root, rel), rng, size)
        names.append(rel)
    return {"dir": name, "files": names, "count": count, "file_bytes": size,
            "bytes": count * size}


def generate(root, quick=False):
    """Writes the corpus under root; returns its description (relative paths)."""
    spec = QUICK if quick else FULL
    os.makedirs(root, exist_ok=True)
    small = _write_set(root, "small", *spec["small"], SEED)
    large = _write_set(root, "large", *spec["large"], SEED + 1)
    _write(os.path.join(root, "big.bin"), random.Random(SEED + 2), spec["big"])
    return {"seed": SEED, "small": small, "large": large,
            "big": {"file": "big.bin", "bytes": spec["big"]}}


def summary(desc):
    """The description without the file lists, for the results file."""
    return {"seed": desc["seed"],
            "small": {k: desc["small"][k] for k in ("count", "file_bytes", "bytes")},
            "large": {k: desc["large"][k] for k in ("count", "file_bytes", "bytes")},
            "big": {"bytes": desc["big"]["bytes"]}}


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: corpus.py DIR [--quick]")
    print(json.dumps(summary(generate(sys.argv[1], "--quick" in sys.argv[2:]))))
