#!/usr/bin/env python3
"""Writes a zip the way other tools do, for the import tests.

Usage: make_zip.py OUT SPEC

SPEC is JSON: {"nameEncoding": "utf-8" | "gbk", "entries": [{"name": str,
"text": str, "encoding": "utf-8" | "utf-8-sig" | "gbk" (of the text,
default utf-8)}]}.

  * "utf-8": Python's zipfile as it is: a name that is not ASCII is written
    in UTF-8 with general purpose bit 11 set.
  * "gbk": as Chinese Windows tools (Explorer's "send to compressed folder",
    old WinRAR/7-Zip settings) write them: the name's CP936/GBK bytes and no
    flag, in the local header and the central directory alike.
"""

import json
import sys
import zipfile


class GbkNameInfo(zipfile.ZipInfo):
    """A member whose name is stored in GBK without the UTF-8 flag."""

    def _encodeFilenameFlags(self):  # zipfile's hook for both headers
        return self.filename.encode("gbk"), self.flag_bits & ~0x800


def main(out, spec_text):
    spec = json.loads(spec_text)
    gbk = spec.get("nameEncoding", "utf-8") == "gbk"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for e in spec["entries"]:
            info = (GbkNameInfo if gbk else zipfile.ZipInfo)(e["name"], date_time=(2026, 12, 6, 12, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, e.get("text", "").encode(e.get("encoding", "utf-8")))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
