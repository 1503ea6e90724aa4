#!/usr/bin/env python3
"""The tlog-tiles read API (docs/formats/tiles.md) as a static mirror sees it.

Used by bench/run.py's section "tiles", which starts custosd, grows its log
and then serves the tiles twice over TLS with wrk: from custosd (each
request reads the served checkpoint and the nodes or entries from the
store) and from nginx serving the same tiles as files from disk, copied
here by `mirror`, so both answer the same bytes at the same paths.

  mirror(connect, root)   reads /log/checkpoint, fetches every tile and
                          entry bundle that checkpoint's size calls for
                          (full and partial, every level) into root/<path>,
                          checks each one's length and that the tiles
                          rebuild the checkpoint's root (RFC 6962 SHA-256,
                          written here from the spec), and returns the
                          size, the paths of full hash tiles and of full
                          entry bundles, and the bytes fetched.
"""

import base64
import hashlib
import os


def index_path(n):
    """<N> of tlog-tiles: 1234067 -> x001/x234/067."""
    parts = [f"{n % 1000:03d}"]
    n //= 1000
    while n > 0:
        parts.insert(0, f"x{n % 1000:03d}")
        n //= 1000
    return "/".join(parts)


def tile_paths(size):
    """(level, index, width, path) of every hash tile a tree of `size` has,
    then (None, index, width, path) of every entry bundle."""
    out = []
    level = 0
    while (size >> (8 * level)) > 0:
        count = size >> (8 * level)
        for n in range((count + 255) // 256):
            w = min(256, count - n * 256)
            suffix = "" if w == 256 else f".p/{w}"
            out.append((level, n, w, f"/log/tile/{level}/{index_path(n)}{suffix}"))
        level += 1
    for n in range((size + 255) // 256):
        w = min(256, size - n * 256)
        suffix = "" if w == 256 else f".p/{w}"
        out.append((None, n, w, f"/log/tile/entries/{index_path(n)}{suffix}"))
    return out


def node(a, b):
    return hashlib.sha256(b"\x01" + a + b).digest()


def fold(hashes):
    while len(hashes) > 1:
        hashes = [node(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
    return hashes[0]


def root_from_tiles(size, tiles):
    """RFC 6962 root of a tree of `size` from its hash tiles {(level, n): [hash]}."""
    if size == 0:
        return hashlib.sha256(b"").digest()
    parts, done = [], 0
    for k in range(63, -1, -1):
        if (size >> k) & 1:
            level, r = divmod(k, 8)
            start = (done >> k) << r
            t = tiles[(level, start // 256)]
            parts.append(fold(t[start % 256:start % 256 + (1 << r)]))
            done += 1 << k
    h = parts[-1]
    for p in reversed(parts[:-1]):
        h = node(p, h)
    return h


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError(f"GET {path} answered {r.status}: {body[:200]!r}")
    return body


def mirror(connect, root):
    conn = connect()
    try:
        note = get(conn, "/log/checkpoint").decode()
        lines = note.split("\n")
        size, want_root = int(lines[1]), base64.b64decode(lines[2])
        with open(os.path.join(root, "checkpoint"), "w") as f:
            f.write(note)
        tiles, full_hash, full_entries, fetched = {}, [], [], 0
        for level, n, w, path in tile_paths(size):
            body = get(conn, path)
            fetched += len(body)
            if level is not None:
                if len(body) != 32 * w:
                    raise RuntimeError(f"{path}: {len(body)} bytes, not {32 * w}")
                tiles[(level, n)] = [body[i:i + 32] for i in range(0, len(body), 32)]
            dest = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(body)
            if w == 256:
                (full_hash if level is not None else full_entries).append(path)
        if root_from_tiles(size, tiles) != want_root:
            raise RuntimeError(f"the tiles do not rebuild the root of the checkpoint of size {size}")
        return {"size": size, "full_hash_tiles": full_hash, "full_entry_bundles": full_entries,
                "bytes_fetched": fetched}
    finally:
        conn.close()
