#!/usr/bin/env python3
"""The architecture test: every #include "..." follows the layer order.

    layer_check.py SOURCE_ROOT     check the tree (ctest: architecture.layers)
    layer_check.py --self-test     plant a violation in a temporary tree and
                                   check that it is caught
                                   (ctest: architecture.layers_self_test)

It reads the quoted #include lines of every *.h and *.cc under common/,
domain/, crypto/, storage/, server/, admin/ and extract/, maps the including file and the
included header to their layers, and reports every include of a layer that
LAYERS below does not allow, as

    file:line: <layer> includes <header> (<layer>), against the layer order

exiting 1 if there is any. A quoted include outside every layer (tests/,
bench/, or a path that names no folder) is a violation too: product code
never includes test code, and a bare "x.h" would slip past the check.
bench/ and tests/ themselves are not checked; they may include anything.

The table mirrors docs/architecture.md, "The dependency rule":

    common <- domain  <- storage <- server/services <- server/http <- server/main.cc
           <- crypto  <-'   ^-------------^---- admin (never server/http)

domain and crypto sit side by side on common: neither includes the other.
"""

import os
import re
import subprocess
import sys
import tempfile

# Each layer and the layers its files may include (its own layer included).
LAYERS = {
    "common": {"common"},
    "domain": {"common", "domain"},
    "crypto": {"common", "crypto"},
    "storage": {"common", "domain", "crypto", "storage"},
    "server/services": {"common", "domain", "crypto", "storage", "server/services"},
    "server/http": {"common", "domain", "crypto", "storage", "server/services", "server/http"},
    "server/main.cc": {"common", "domain", "crypto", "storage", "server/services", "server/http"},
    "admin": {"common", "domain", "crypto", "storage", "server/services", "admin"},
    # The document parsers (custos-extract, docs/formats/extraction.md): run
    # as a separate process, never linked into the server, so no server layer
    # includes them (server/services/extraction_runner.h speaks to the worker
    # over pipes only).
    "extract": {"common", "extract"},
}

# Which layer a path (relative to the source root) belongs to: the first
# prefix that matches, so server/main.cc comes before the server/ folders.
LAYER_OF_PREFIX = [
    ("server/main.cc", "server/main.cc"),
    ("server/services/", "server/services"),
    ("server/http/", "server/http"),
    ("common/", "common"),
    ("domain/", "domain"),
    ("crypto/", "crypto"),
    ("storage/", "storage"),
    ("admin/", "admin"),
    ("extract/", "extract"),
    ("tests/", "tests"),
    ("bench/", "bench"),
]

# Folders whose files are checked.
CHECKED_FOLDERS = ["common", "domain", "crypto", "storage", "server", "admin", "extract"]

# Known violations, tolerated until they are removed: (file, header).
# Empty: today's tree keeps the order.
ALLOWED = set()

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path):
    for prefix, layer in LAYER_OF_PREFIX:
        if path == prefix or path.startswith(prefix):
            return layer
    return None


def sources(root):
    for folder in CHECKED_FOLDERS:
        for directory, subdirs, files in os.walk(os.path.join(root, folder)):
            subdirs.sort()
            for name in sorted(files):
                if name.endswith((".h", ".cc")):
                    full = os.path.join(directory, name)
                    yield os.path.relpath(full, root).replace(os.sep, "/")


def check(root):
    """Returns (violations, files checked, include lines checked)."""
    violations = []
    files = lines = 0
    for path in sources(root):
        layer = layer_of(path)
        if layer not in LAYERS:
            continue  # e.g. a stray file directly under server/
        files += 1
        with open(os.path.join(root, path), encoding="utf-8") as source:
            for number, text in enumerate(source, 1):
                match = INCLUDE.match(text)
                if not match:
                    continue
                lines += 1
                header = match.group(1)
                target = layer_of(header)
                if (path, header) in ALLOWED:
                    continue
                if target not in LAYERS[layer]:
                    violations.append(
                        "%s:%d: %s includes %s (%s), against the layer order"
                        % (path, number, layer, header, target or "no layer"))
    return violations, files, lines


def run(root):
    if not all(os.path.isdir(os.path.join(root, f)) for f in CHECKED_FOLDERS):
        print("layer_check: %s is not the source root (it needs %s)"
              % (root, ", ".join(CHECKED_FOLDERS)), file=sys.stderr)
        return 2
    violations, files, lines = check(root)
    for line in violations:
        print(line)
    if violations:
        print("layer_check: %d include(s) against the layer order "
              "(docs/architecture.md, \"The dependency rule\")" % len(violations))
        return 1
    print("layer_check: %d files, %d include lines: all follow the layer order" % (files, lines))
    return 0


def self_test():
    """Runs this script on a tiny tree with planted violations."""
    def write(root, path, text):
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w", encoding="utf-8") as out:
            out.write(text)

    def run_on(root):
        done = subprocess.run([sys.executable, os.path.abspath(__file__), root],
                              capture_output=True, text=True)
        return done.returncode, done.stdout + done.stderr

    failures = []
    with tempfile.TemporaryDirectory() as root:
        for folder in CHECKED_FOLDERS:
            os.makedirs(os.path.join(root, folder))
        write(root, "common/status.h", "#pragma once\n")
        write(root, "server/http/router.h", '#include "common/status.h"\n')
        write(root, "storage/x.cc",
              '#include "storage/x.h"\n#include "common/status.h"\n#include <vector>\n'
              '#include "domain/model.h"\n#include "crypto/hash.h"\n')
        write(root, "storage/x.h", "#pragma once\n")
        write(root, "admin/y.cc", '#include "server/services/s.h"\n')
        write(root, "domain/model.h", '#include "common/status.h"\n')
        write(root, "crypto/hash.h", '#include "common/status.h"\n')

        code, output = run_on(root)
        if code != 0:
            failures.append("a clean tree failed (exit %d):\n%s" % (code, output))

        # One step against the order, one into test code, one at a bare name,
        # and one each way between the side-by-side domain and crypto.
        write(root, "storage/x.cc",
              '#include "storage/x.h"\n#include "server/http/router.h"\n')
        write(root, "admin/y.cc",
              '#include "server/services/s.h"\n\n#include "tests/testutil/testutil.h"\n')
        write(root, "crypto/z.cc", '#  include "z.h"\n')
        write(root, "domain/model.h", '#include "common/status.h"\n#include "crypto/hash.h"\n')
        write(root, "crypto/hash.h", '#include "domain/model.h"\n')
        code, output = run_on(root)
        expected = [
            "storage/x.cc:2: storage includes server/http/router.h (server/http), "
            "against the layer order",
            "admin/y.cc:3: admin includes tests/testutil/testutil.h (tests), "
            "against the layer order",
            "crypto/z.cc:1: crypto includes z.h (no layer), against the layer order",
            "domain/model.h:2: domain includes crypto/hash.h (crypto), against the layer order",
            "crypto/hash.h:1: crypto includes domain/model.h (domain), against the layer order",
        ]
        if code != 1:
            failures.append("planted violations: exit %d, not 1:\n%s" % (code, output))
        for line in expected:
            if line not in output.splitlines():
                failures.append("not reported: %s\noutput:\n%s" % (line, output))

    for failure in failures:
        print("layer_check self-test: " + failure)
    if failures:
        return 1
    print("layer_check self-test: a clean tree passes; 5 planted violations are reported")
    return 0


def main(argv):
    if argv == ["--self-test"]:
        return self_test()
    if len(argv) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    return run(argv[0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
