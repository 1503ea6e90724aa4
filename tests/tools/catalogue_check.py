#!/usr/bin/env python3
"""Checks the catalogue and version values of an audit package against its
log, from docs/formats/audit-package.md ("Catalogue values", and the
manifest hash rule under metadata/<record>.json) alone.

It knows nothing of Custos's code: it reads the package (.tar.gz, .tar or
.zip) with Python's tarfile and zipfile, and for every metadata/<record>.json
recomputes the record's digest from the values and salt the file gives
(RFC 8785 canonical JSON of strings, SHA-256) and compares it with the
details.recordHash of log entry `logIndex` in log/entries.jsonl, which must
be the newest entry about the record that carries one; and for every
version recomputes its manifest hash and compares it with the
details.manifestHash of its entry. It does not check signatures, the tree
or the receipts (verify-package and the receipt verifier do).

Prints one JSON object: {"records": {id: "ok" | why not}, "versions":
{"<id>/v<n>": "ok" | why not}}. Exit status: 0 every one ok, 1 one is not,
2 the package could not be read.

Usage: catalogue_check.py PACKAGE
"""

import base64
import hashlib
import json
import sys
import tarfile
import zipfile


def canonical(value):
    # RFC 8785 for objects of strings: sorted member names (all ASCII here,
    # so code point order is UTF-16 order), no whitespace, UTF-8 literals,
    # and json's escapes (\" \\ \b \f \n \r \t, \u00xx lower-case) for the rest.
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def read_package(path):
    files = {}
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.is_dir():
                    files[info.filename.split("/", 1)[1]] = z.read(info)
    else:
        with tarfile.open(path) as t:
            for member in t:
                if member.isfile():
                    files[member.name.split("/", 1)[1]] = t.extractfile(member).read()
    return files


def record_digest(record):
    row = {k: v for k, v in record.items() if k not in ("versions", "logIndex", "receipt")}
    row["metadata"] = canonical(row["metadata"])
    if row.get("salt") == "":
        del row["salt"]
    return hashlib.sha256(canonical(row).encode("utf-8")).hexdigest()


def manifest_hash(record, version):
    files = [{"id": f["id"], "mediaType": f["mediaType"], "name": f["name"], "sha256": f["sha256"],
              "signature": {"signer": f["signer"], "signingTime": f["signingTime"], "status": f["signature"]},
              "size": f["size"], "sm3": f.get("sm3", "")} for f in version["files"]]
    manifest = {"createdAt": version["createdAt"], "createdBy": version["createdBy"], "files": files,
                "kind": version["kind"], "note": version["note"], "number": version["number"],
                "prev": version["prevManifestHash"], "record": record["id"]}
    return hashlib.sha256(canonical(manifest).encode("utf-8")).hexdigest()


def main(path):
    try:
        files = read_package(path)
    except (OSError, tarfile.TarError, zipfile.BadZipFile) as e:
        print(json.dumps({"error": str(e)}))
        return 2
    events, newest = {}, {}
    for line in files.get("log/entries.jsonl", b"").decode("utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("redacted"):
            continue
        event = json.loads(base64.b64decode(entry["leaf"]))
        events[entry["index"]] = event
        if isinstance(event["details"], dict) and "recordHash" in event["details"]:
            newest[event["subject"]] = entry["index"]
    out, versions = {}, {}
    for name, data in sorted(files.items()):
        if not name.startswith("metadata/"):
            continue
        record = json.loads(data)
        index = record.get("logIndex")
        event = events.get(index)
        if index is None or event is None or event["subject"] != record["id"]:
            out[record["id"]] = "logIndex names no entry about the record"
        elif newest.get(record["id"]) != index:
            out[record["id"]] = "a later entry holds a newer recordHash"
        elif event["details"].get("recordHash") != record_digest(record):
            out[record["id"]] = "catalogue values do not match the log"
        else:
            out[record["id"]] = "ok"
        for version in record["versions"]:
            key = "%s/v%d" % (record["id"], version["number"])
            event = events.get(version["logIndex"])
            logged = event["details"].get("manifestHash") if event else None
            versions[key] = "ok" if logged == manifest_hash(record, version) else "values do not match the log"
    print(json.dumps({"records": out, "versions": versions}, ensure_ascii=False))
    return 0 if all(v == "ok" for v in list(out.values()) + list(versions.values())) else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: catalogue_check.py PACKAGE")
    sys.exit(main(sys.argv[1]))
