#!/usr/bin/env python3
"""Preview latency through a running custosd (docs/api.md "Previews").

Used by bench/run.py's section "preview", which starts the server and signs
in an archivist. The document is made here, at run time, as in tests/extract
(tests/extract/make_documents.py): a 20-page A4 PDF with a Chinese and
English text layer. Each of `records` copies is checked in as its own
record (so each has its own file and key), the content pipeline is waited
for, and then, over one kept-alive HTTPS connection:

  cold_page_ms      GET .../preview?page=1&size=page of a file never
                    previewed: decryption, the custos-render worker (process
                    start, libmagic, poppler at 1200 px, PNG), sealing, the
                    cache row and the content.read event; median and p95
                    over the records
  cold_thumb_ms     the same at size=thumb (240 px), on the same files
  cached_page_ms    the page again: the sealed image from derived_cache,
                    opened, and the content.read event; median and p95 over
                    `views` requests
  png_bytes_page / png_bytes_thumb   the size of the images
"""

import json
import os
import statistics
import sys
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "extract"))
import make_documents  # noqa: E402


def pdf20(work):
    path = os.path.join(work, "pages20.pdf")
    make_documents.write_pdf(path, [make_documents.text_page(n + 1) for n in range(20)])
    with open(path, "rb") as f:
        return f.read()


def multipart(metadata, name, data):
    boundary = "----custos-bench-" + uuid.uuid4().hex
    parts = [
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
        f"Content-Type: application/json\r\n\r\n{json.dumps(metadata)}\r\n".encode(),
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
        f"Content-Type: application/pdf\r\n\r\n".encode() + data + b"\r\n",
        f"--{boundary}--\r\n".encode(),
    ]
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def request(conn, token, method, path, body=None, ctype=None):
    headers = {"Authorization": f"Bearer {token}"}
    if ctype:
        headers["Content-Type"] = ctype
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    return r.status, r.read()


def percentile(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def summary_ms(seconds):
    ms = [x * 1000.0 for x in seconds]
    return {"median": statistics.median(ms), "p95": percentile(ms, 95), "n": len(ms)}


def wait_previewable(conn, token, record_id, limit_s=600):
    """The preview path of the record's file once the pipeline identified it."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status, body = request(conn, token, "GET", f"/v1/records/{record_id}")
        if status != 200:
            raise RuntimeError(f"GET record {record_id}: HTTP {status}")
        f = json.loads(body)["versions"][0]["files"][0]
        if f.get("preview", {}).get("pages"):
            return f"/v1/records/{record_id}/versions/1/files/{f['id']}/preview", f["preview"]["pages"]
        time.sleep(0.2)
    raise RuntimeError(f"the pipeline did not identify {record_id} within {limit_s} s")


def timed_get(conn, token, path):
    t0 = time.monotonic()
    status, body = request(conn, token, "GET", path)
    seconds = time.monotonic() - t0
    if status != 200 or not body.startswith(b"\x89PNG"):
        raise RuntimeError(f"GET {path}: HTTP {status} {body[:200]!r}")
    return seconds, len(body)


def measure(connect, token, work, quick=False):
    """`connect()` opens an HTTPS connection to custosd; `token` is an
    archivist's session."""
    records = 5 if quick else 20
    views = 50 if quick else 300
    data = pdf20(work)
    conn = connect()
    try:
        ids = []
        for i in range(records):
            body, ctype = multipart({"type": "general", "title": f"预览基准 preview bench {i:03d}",
                                     "department": "sales", "classification": "internal"},
                                    f"合同-{i:03d}.pdf", data)
            status, answer = request(conn, token, "POST", "/v1/records", body, ctype)
            if status != 201:
                raise RuntimeError(f"check-in: HTTP {status} {answer[:200]!r}")
            ids.append(json.loads(answer)["id"])
        paths = [wait_previewable(conn, token, rid) for rid in ids]
        cold_page, cold_thumb, cached = [], [], []
        page_bytes = thumb_bytes = 0
        for path, pages in paths:
            if pages != 20:
                raise RuntimeError(f"{path}: {pages} pages, not 20")
            s, page_bytes = timed_get(conn, token, path + "?page=1&size=page")
            cold_page.append(s)
            s, thumb_bytes = timed_get(conn, token, path + "?page=1&size=thumb")
            cold_thumb.append(s)
        for k in range(views):
            s, _ = timed_get(conn, token, paths[k % len(paths)][0] + "?page=1&size=page")
            cached.append(s)
    finally:
        conn.close()
    return {
        "document": "20-page A4 PDF, Chinese and English text layer",
        "records": records,
        "cold_page_ms": summary_ms(cold_page),
        "cold_thumb_ms": summary_ms(cold_thumb),
        "cached_page_ms": summary_ms(cached),
        "png_bytes_page": page_bytes,
        "png_bytes_thumb": thumb_bytes,
        "client": "one kept-alive HTTPS connection, requests in sequence",
    }
