#!/usr/bin/env python3
"""Stamped loan copy creation by the worker custos-stamp (docs/formats/stamp.md).

    stamp_bench.py BIN_DIR [--quick]     prints the figures as JSON

Also bench/run.py's section "loan_copy". The documents are made here, at
run time, as in tests/extract (tests/extract/make_stamp_documents.py):

  pdf20_copy_seconds    a 20-page A4 PDF with Chinese and English text,
                        stamped with the five lines custosd stamps (one of
                        them Chinese); whole worker runs (process start and
                        libmagic included), median of 5 (quick: 3)
  pdf20_copy_pages_per_s  the same as pages per second
  pdf200_copy_seconds   the same for 200 pages (ten copies of the 20)
  copy_bytes_overhead   bytes the copy adds to the 20-page original

The worker runs directly, without the runner's limits, in the environment
the runner gives it. In custosd a copy also costs the decryption of the
original into memory and one log write (the content.read event), which the
"custos" section's content reads measure.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "extract"))
import make_stamp_documents  # noqa: E402

LINES = [
    "Custos loan copy 借阅副本 - LN-2026-000417 - not the original",
    "Borrower: zhang.wei (sales)",
    "Loan LN-2026-000417 due 2026-12-31T00:00:00.000Z",
    "Made 2026-12-07T11:00:00.000Z (server time 2026-12-07 19:00:00 CST)",
    "Record R-2026-000123 version 1 file f0123456789abcdef",
]


def timed_copy(worker, data):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_THREAD_LIMIT": "1"}
    argv = [worker]
    for line in LINES:
        argv += ["--line", line]
    t0 = time.monotonic()
    p = subprocess.run(argv, input=data, capture_output=True, env=env, timeout=600)
    seconds = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError("custos-stamp: exit %d: %s" % (p.returncode, p.stderr[-300:]))
    header, _, copy = p.stdout.partition(b"\n")
    if header != b"custos-stamp/1 application/pdf":
        raise RuntimeError("custos-stamp: unexpected header %r" % header[:80])
    return seconds, copy


def measure(bin_dir, work, quick=False):
    worker = os.path.join(bin_dir, "custos-stamp")
    runs = 3 if quick else 5
    make_stamp_documents.main(work)
    with open(os.path.join(work, "pages20.pdf"), "rb") as f:
        pdf20 = f.read()
    big = os.path.join(work, "pages200.pdf")
    make_stamp_documents.write_pdf(big, [(b"/MediaBox [0 0 595 842]", make_stamp_documents.content(n + 1, 72, 760))
                                         for n in range(200)])
    with open(big, "rb") as f:
        pdf200 = f.read()
    small = [timed_copy(worker, pdf20) for _ in range(runs)]
    large = [timed_copy(worker, pdf200) for _ in range(runs)]
    s20 = statistics.median(r[0] for r in small)
    s200 = statistics.median(r[0] for r in large)
    return {
        "runs_per_figure": runs,
        "pdf20_copy_seconds": s20,
        "pdf20_copy_pages_per_s": 20 / s20,
        "pdf200_copy_seconds": s200,
        "pdf200_copy_pages_per_s": 200 / s200,
        "pdf20_bytes": len(pdf20),
        "copy_bytes_overhead": len(small[0][1]) - len(pdf20),
    }


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    with tempfile.TemporaryDirectory() as d:
        print(json.dumps(measure(sys.argv[1], d, "--quick" in sys.argv[2:]), indent=1))
