#!/usr/bin/env python3
"""A BagIt 1.0 validator written from RFC 8493, for serialized bags.

It knows nothing of how Custos writes its packages: it reads a bag
serialized as .tar.gz / .tar or .zip (RFC 8493 section 4) with Python's own
tarfile and zipfile modules and checks what the RFC asks of a complete and
valid bag (section 3):

  * the serialization holds one base directory and nothing beside it (4);
  * bagit.txt is there, UTF-8 without a byte-order mark, exactly the two
    lines "BagIt-Version: M.N" and "Tag-File-Character-Encoding: ENC" (2.1.1);
  * the payload directory data/ is there, even when it is empty (2.1.2);
  * at least one payload manifest manifest-<algorithm>.txt; each line is
    "<checksum> <filepath>" with the path percent-encoded for CR, LF and %
    (2.1.3); every payload file is listed in every payload manifest, every
    listed file exists, no path leaves the bag or names a non-payload file,
    no path is listed twice, and every checksum is right;
  * tag manifests tagmanifest-<algorithm>.txt (2.2.1): every file listed
    exists with the right checksum, none lists a payload file or itself; with
    --all-tags-listed every tag file must be listed (the RFC's SHOULD);
  * bag-info.txt (2.2.2): "Label: value" lines with indented continuation
    lines; a Payload-Oxum (at most one) equals the payload's octet count and
    stream count; a Bagging-Date is YYYY-MM-DD.

It prints one JSON object: {"valid": bool, "errors": [...], "members":
[every member name as the archive module decoded it], "payload": {path:
size}, "bagInfo": [[label, value], ...], "zipNames": [{"name", "utf8Flag",
"unicodePath"}] (zip only: general purpose bit 11 and the Info-ZIP Unicode
Path extra field 0x7075 of each member)}. Exit status: 0 valid, 1 not valid,
2 the file could not be read at all.

Usage: bagit_check.py [--all-tags-listed] PACKAGE
"""

import hashlib
import json
import re
import struct
import sys
import tarfile
import zipfile
import zlib

ALGORITHMS = {"md5", "sha1", "sha256", "sha512"}


class Bag:
    """The members of a serialized bag: path → bytes, plus directories."""

    def __init__(self):
        self.files = {}  # "base/…" → bytes
        self.dirs = set()  # "base/…" without the trailing slash
        self.members = []  # names in archive order, as decoded
        self.zip_names = []
        self.errors = []


def read_zip(path, bag):
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            bag.members.append(info.filename)
            bag.zip_names.append({
                "name": info.filename,
                "utf8Flag": bool(info.flag_bits & 0x800),
                "unicodePath": unicode_path(info),
            })
            if info.is_dir():
                bag.dirs.add(info.filename.rstrip("/"))
            else:
                add_file(bag, info.filename, z.read(info))


def unicode_path(info):
    """The Info-ZIP Unicode Path (0x7075) of a member, checked against the
    CRC-32 of the header's name bytes; None when there is none."""
    extra = info.extra
    raw_name = info.filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")
    at = 0
    while at + 4 <= len(extra):
        hid, size = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4:at + 4 + size]
        at += 4 + size
        if hid != 0x7075:
            continue
        if len(body) < 5 or body[0] != 1:
            return "<malformed>"
        (crc,) = struct.unpack_from("<I", body, 1)
        if crc != zlib.crc32(raw_name):
            return "<crc mismatch>"
        return body[5:].decode("utf-8", errors="replace")
    return None


def read_tar(path, bag):
    with tarfile.open(path, "r:*") as t:
        for m in t:
            bag.members.append(m.name)
            if m.isdir():
                bag.dirs.add(m.name.rstrip("/"))
            elif m.isfile():
                add_file(bag, m.name, t.extractfile(m).read())
            else:
                bag.errors.append(f"{m.name}: not a regular file or directory")


def add_file(bag, name, data):
    if name in bag.files:
        bag.errors.append(f"{name}: appears twice in the serialization")
    bag.files[name] = data


def split_lines(text):
    # CR LF, LF and CR all end a line (RFC 8493 section 2).
    return [line for line in re.split(r"\r\n|\n|\r", text)]


def decode_path(p):
    """Undoes the percent-encoding of section 2.1.3 (%0A, %0D, %25 only)."""
    return re.sub(r"%(0A|0D|25)", lambda m: {"0A": "\n", "0D": "\r", "25": "%"}[m.group(1).upper()],
                  p, flags=re.IGNORECASE)


def parse_manifest(name, text, errors):
    """Returns path → checksum; malformed lines are errors."""
    entries = {}
    for n, line in enumerate(split_lines(text), 1):
        if line == "":
            continue
        m = re.fullmatch(r"([0-9A-Fa-f]+)[ \t]+(.+)", line)
        if not m:
            errors.append(f"{name} line {n}: not '<checksum> <filepath>'")
            continue
        path = decode_path(m.group(2))
        if path.startswith("/") or ".." in path.split("/") or "\\" in path:
            errors.append(f"{name} line {n}: the path leaves the bag: {path!r}")
            continue
        if path in entries:
            errors.append(f"{name}: {path!r} is listed twice")
        entries[path] = m.group(1).lower()
    return entries


def parse_bag_info(text, errors):
    items = []
    for n, line in enumerate(split_lines(text), 1):
        if line == "":
            continue
        if line[0] in " \t":
            if not items:
                errors.append(f"bag-info.txt line {n}: a continuation line with no label before it")
            else:
                items[-1][1] += " " + line.strip()
            continue
        label, sep, value = line.partition(":")
        if not sep or label.strip() == "" or label != label.strip():
            errors.append(f"bag-info.txt line {n}: not 'Label: value'")
            continue
        items.append([label, value.strip()])
    return items


def check(path, all_tags_listed):
    bag = Bag()
    try:
        if zipfile.is_zipfile(path):
            read_zip(path, bag)
        else:
            read_tar(path, bag)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError, zlib.error) as e:
        return bag, f"cannot read {path}: {e}"
    errors = bag.errors

    # Section 4: one base directory.
    bases = {name.split("/", 1)[0] for name in list(bag.files) + list(bag.dirs)}
    if len(bases) != 1:
        errors.append(f"the serialization holds {len(bases)} top-level entries, not one base directory")
        return bag, None
    base = bases.pop() + "/"
    files = {}
    for name, data in bag.files.items():
        if not name.startswith(base):
            errors.append(f"{name}: outside the base directory")
        else:
            files[name[len(base):]] = data
    dirs = {d[len(base):] for d in bag.dirs if d.startswith(base)}
    bag.payload = {p: len(d) for p, d in files.items() if p.startswith("data/")}

    # 2.1.1 bagit.txt
    bagit = files.get("bagit.txt")
    encoding = "utf-8"
    if bagit is None:
        errors.append("bagit.txt: missing")
    else:
        if bagit.startswith(b"\xef\xbb\xbf"):
            errors.append("bagit.txt: starts with a byte-order mark")
        try:
            lines = [l for l in split_lines(bagit.decode("utf-8"))]
            if lines and lines[-1] == "":
                lines.pop()
            if len(lines) != 2:
                errors.append(f"bagit.txt: {len(lines)} lines, not 2")
            if not lines or not re.fullmatch(r"BagIt-Version: [0-9]+\.[0-9]+", lines[0]):
                errors.append("bagit.txt: the first line is not 'BagIt-Version: M.N'")
            if len(lines) < 2 or not lines[1].startswith("Tag-File-Character-Encoding: "):
                errors.append("bagit.txt: the second line is not 'Tag-File-Character-Encoding: …'")
            else:
                encoding = lines[1].split(": ", 1)[1].strip()
        except UnicodeDecodeError:
            errors.append("bagit.txt: not UTF-8")

    def text(name):
        try:
            return files[name].decode(encoding)
        except (UnicodeDecodeError, LookupError):
            errors.append(f"{name}: not in the declared encoding {encoding}")
            return ""

    # 2.1.2 the payload directory
    has_data = "data" in dirs or any(p.startswith("data/") for p in files)
    if not has_data:
        errors.append("data/: the payload directory is missing")

    # 2.1.3 payload manifests
    manifests = sorted(n for n in files if re.fullmatch(r"manifest-[a-z0-9]+\.txt", n))
    if not manifests:
        errors.append("no payload manifest (manifest-<algorithm>.txt)")
    payload = {p for p in files if p.startswith("data/")}
    for m in manifests:
        alg = m[len("manifest-"):-len(".txt")]
        entries = parse_manifest(m, text(m), errors)
        for p, digest in entries.items():
            if not p.startswith("data/"):
                errors.append(f"{m}: {p!r} is not in the payload directory")
            elif p not in files:
                errors.append(f"{m}: {p!r} is listed but not in the bag")
            elif alg in ALGORITHMS and hashlib.new(alg, files[p]).hexdigest() != digest:
                errors.append(f"{m}: {p!r} has another {alg} checksum")
        for p in sorted(payload - set(entries)):
            errors.append(f"{p!r}: a payload file not listed in {m}")

    # 2.2.1 tag manifests
    tag_manifests = sorted(n for n in files if re.fullmatch(r"tagmanifest-[a-z0-9]+\.txt", n))
    for m in tag_manifests:
        alg = m[len("tagmanifest-"):-len(".txt")]
        entries = parse_manifest(m, text(m), errors)
        for p, digest in entries.items():
            if p.startswith("data/"):
                errors.append(f"{m}: lists the payload file {p!r}")
            elif p == m:
                errors.append(f"{m}: lists itself")
            elif p not in files:
                errors.append(f"{m}: {p!r} is listed but not in the bag")
            elif alg in ALGORITHMS and hashlib.new(alg, files[p]).hexdigest() != digest:
                errors.append(f"{m}: {p!r} has another {alg} checksum")
        if all_tags_listed:
            for p in sorted(files):
                if not p.startswith("data/") and not re.fullmatch(r"tagmanifest-[a-z0-9]+\.txt", p) \
                        and p not in entries:
                    errors.append(f"{p!r}: a tag file not listed in {m}")

    # 2.2.2 bag-info.txt
    bag.bag_info = []
    if "bag-info.txt" in files:
        bag.bag_info = parse_bag_info(text("bag-info.txt"), errors)
        oxums = [v for l, v in bag.bag_info if l == "Payload-Oxum"]
        if len(oxums) > 1:
            errors.append("bag-info.txt: Payload-Oxum given more than once")
        for oxum in oxums[:1]:
            want = f"{sum(len(files[p]) for p in payload)}.{len(payload)}"
            if oxum != want:
                errors.append(f"bag-info.txt: Payload-Oxum {oxum} but the payload is {want}")
        for l, v in bag.bag_info:
            if l == "Bagging-Date" and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", v):
                errors.append(f"bag-info.txt: Bagging-Date {v!r} is not YYYY-MM-DD")
    return bag, None


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__.split("Usage: ")[1], file=sys.stderr)
        return 2
    bag, fatal = check(args[0], "--all-tags-listed" in argv)
    report = {
        "valid": fatal is None and not bag.errors,
        "errors": bag.errors + ([fatal] if fatal else []),
        "members": bag.members,
        "payload": getattr(bag, "payload", {}),
        "bagInfo": getattr(bag, "bag_info", []),
    }
    if bag.zip_names:
        report["zipNames"] = bag.zip_names
    print(json.dumps(report, indent=1))
    if fatal:
        return 2
    return 0 if report["valid"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
