#!/usr/bin/env python3
"""Check-in load over HTTPS against a running custosd.

  checkin_client.py --url URL --cafile CA --user NAME --password-file F
                    --clients N --list FILES [--root DIR] [--records-out OUT]

FILES names one file per line (relative to --root). N clients, each with its
own TLS connection, take the next file from the list and check it in as one
record (POST /v1/records, multipart: metadata, then the file), until the list
is done. The file is streamed from disk in 1 MiB pieces, so a 16 MiB or 1 GiB
upload does not sit in this process's memory. Prints one JSON object:
  {"clients", "count", "bytes", "seconds", "per_s", "MBps", "failures", ...}
and writes the checked-in records [{"id", "file", "size"}, ...] to OUT.
The password is read from a file so that it never shows in a process list.
"""
import argparse
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

BOUNDARY = "custosbenchboundary7d1f"
PIECE = 1 << 20


def connect(url, cafile, timeout=600):
    u = urllib.parse.urlparse(url)
    ctx = ssl.create_default_context(cafile=cafile)
    return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=timeout)


def sign_in(url, cafile, user, password):
    """Returns a session token; raises RuntimeError if the server refuses."""
    c = connect(url, cafile)
    try:
        c.request("POST", "/v1/session", json.dumps({"username": user, "password": password}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"sign-in failed: HTTP {r.status} {body[:200]!r}")
        return json.loads(body)["token"]
    finally:
        c.close()


def multipart_parts(path, title):
    """(head, tail) around the file's bytes in a POST /v1/records body."""
    meta = json.dumps({"type": "general", "title": title, "department": "sales",
                       "classification": "internal"})
    name = os.path.basename(path)
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
            f"Content-Type: application/json\r\n\r\n{meta}\r\n--{BOUNDARY}\r\n"
            f"Content-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode()
    tail = f"\r\n--{BOUNDARY}--\r\n".encode()
    return head, tail


def _body(path, head, tail):
    yield head
    with open(path, "rb") as f:
        while True:
            piece = f.read(PIECE)
            if not piece:
                break
            yield piece
    yield tail


def check_in(conn, token, path, title="bench"):
    """Checks in one file as one record; returns (status, parsed body or text)."""
    head, tail = multipart_parts(path, title)
    size = os.path.getsize(path)
    # An explicit Content-Length keeps http.client from chunking the
    # generator, and the generator keeps the file out of memory.
    conn.request("POST", "/v1/records", _body(path, head, tail),
                 {"Authorization": f"Bearer {token}",
                  "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
                  "Content-Length": str(len(head) + size + len(tail))})
    r = conn.getresponse()
    body = r.read()
    if r.status != 201:
        return r.status, body[:300].decode(errors="replace")
    return r.status, json.loads(body)


def run(url, cafile, token, paths, clients):
    """Checks in every file of paths with `clients` concurrent connections."""
    lock = threading.Lock()
    next_index = [0]
    records = [None] * len(paths)
    failures = []

    def client():
        conn = connect(url, cafile)
        try:
            while True:
                with lock:
                    i = next_index[0]
                    next_index[0] += 1
                if i >= len(paths):
                    return
                status, rec = check_in(conn, token, paths[i], f"bench corpus {i}")
                if status != 201:
                    with lock:
                        failures.append(f"{os.path.basename(paths[i])}: HTTP {status} {rec}")
                    conn.close()
                    conn = connect(url, cafile)
                    continue
                f = rec["versions"][0]["files"][0]
                records[i] = {"id": rec["id"], "file": f["id"], "size": f["size"]}
        except Exception as e:  # a broken connection fails this client, loudly
            with lock:
                failures.append(f"client error: {type(e).__name__}: {e}")
        finally:
            conn.close()

    total = sum(os.path.getsize(p) for p in paths)
    start = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    done = [r for r in records if r is not None]
    done_bytes = sum(r["size"] for r in done)
    return {
        "clients": clients,
        "count": len(done),
        "attempted": len(paths),
        "bytes": done_bytes,
        "seconds": elapsed,
        "per_s": len(done) / elapsed,
        "MBps": done_bytes / elapsed / 1e6,
        "failures": len(failures),
        "first_failures": failures[:3],
        "corpus_bytes": total,
    }, done


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--url", required=True)
    p.add_argument("--cafile", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    p.add_argument("--clients", type=int, default=1)
    p.add_argument("--list", required=True, help="file with one path per line")
    p.add_argument("--root", default=".", help="the paths in --list are relative to this")
    p.add_argument("--records-out")
    a = p.parse_args()
    with open(a.password_file) as f:
        password = f.readline().strip()
    with open(a.list) as f:
        paths = [os.path.join(a.root, line.strip()) for line in f if line.strip()]
    token = sign_in(a.url, a.cafile, a.user, password)
    summary, records = run(a.url, a.cafile, token, paths, a.clients)
    if a.records_out:
        with open(a.records_out, "w") as f:
            json.dump(records, f)
    print(json.dumps(summary))
    return 1 if summary["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
