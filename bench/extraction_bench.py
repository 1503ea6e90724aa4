#!/usr/bin/env python3
"""Extraction rates of the worker custos-extract (docs/formats/extraction.md).

    extraction_bench.py BIN_DIR [--quick]     prints the figures as JSON

Also bench/run.py's section "extraction". Documents are made here, at run
time, as in tests/extract (tests/extract/make_documents.py, ImageMagick):

  text_layer_pages_per_s     a 200-page PDF with a Chinese and English text
                             layer, whole worker runs (process start and
                             libmagic included), median of 3
  ocr_seconds_per_page       an A4 page at 300 dpi (2480 x 3508) with 12 lines
                             of Chinese and English, as PNG, median of 3
  scanned_pdf_seconds_per_page  the same page as a PDF without a text layer
                             (rendered by poppler at 300 dpi, then OCRed)

The worker runs directly, without the runner's limits, with OMP_THREAD_LIMIT=1
as the runner sets it.
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
import make_documents  # noqa: E402

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
LINES = ["价格调整通知 第%d条" % i if i % 2 else "Penalty clause %d of the contract" % i
         for i in range(1, 13)]


def timed_run(worker, path):
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_THREAD_LIMIT": "1"}
    with open(path, "rb") as f:
        data = f.read()
    t0 = time.monotonic()
    p = subprocess.run([worker], input=data, capture_output=True, env=env, timeout=600)
    seconds = time.monotonic() - t0
    if p.returncode != 0:
        raise RuntimeError("custos-extract %s: exit %d: %s" % (path, p.returncode, p.stderr[-300:]))
    answer = json.loads(p.stdout)
    return seconds, answer


def median_run(worker, path, runs):
    results = [timed_run(worker, path) for _ in range(runs)]
    return statistics.median(r[0] for r in results), results[0][1]


def make_scan(work):
    png = os.path.join(work, "a4.png")
    cmd = ["convert", "-size", "2480x3508", "xc:white", "-units", "PixelsPerInch", "-density", "300",
           "-font", FONT, "-fill", "black", "-pointsize", "14"]
    for i, line in enumerate(LINES):
        cmd += ["-annotate", "+200+%d" % (300 + i * 220), line]
    subprocess.run(cmd + [png], check=True)
    jpg = os.path.join(work, "a4.jpg")
    subprocess.run(["convert", png, "-colorspace", "Gray", "-quality", "92", jpg], check=True)
    pdf = os.path.join(work, "a4.pdf")
    make_documents.image_pdf(jpg, pdf, 2480, 3508, 300)
    return png, pdf


def measure(bin_dir, work, quick=False):
    worker = os.path.join(bin_dir, "custos-extract")
    runs = 1 if quick else 3
    out = {"runs_per_figure": runs}
    pages = 200
    pdf = os.path.join(work, "pages200.pdf")
    make_documents.write_pdf(pdf, [make_documents.text_page(n + 1) for n in range(pages)])
    seconds, answer = median_run(worker, pdf, runs)
    if answer["pages"] != pages or answer["method"] != "pdf_text":
        raise RuntimeError("text-layer PDF: unexpected answer %s" % answer["method"])
    out["text_layer_pages"] = pages
    out["text_layer_pages_per_s"] = round(pages / seconds, 1)

    png, scanned = make_scan(work)
    seconds, answer = median_run(worker, png, runs)
    out["ocr_seconds_per_page"] = round(seconds, 3)
    out["ocr_found_lines"] = sum(1 for line in LINES if line.split()[0] in answer["text"])
    out["ocr_lines"] = len(LINES)
    seconds, answer = median_run(worker, scanned, runs)
    if answer["method"] != "ocr":
        raise RuntimeError("scanned PDF: method %s, not ocr" % answer["method"])
    out["scanned_pdf_seconds_per_page"] = round(seconds, 3)
    return out


def main(argv):
    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="custos-extract-bench-") as work:
        print(json.dumps(measure(argv[0], work, "--quick" in argv), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
