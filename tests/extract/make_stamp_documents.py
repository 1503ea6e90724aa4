#!/usr/bin/env python3
"""Makes the PDFs of the loan copy worker's tests (tests/extract/stamp_test.cc).

    make_stamp_documents.py OUT_DIR

  turned.pdf   three pages with Chinese and ASCII text (STSong-Light,
               UniGB-UCS2-H; Helvetica): page 1 plain A4; page 2 /Rotate 90
               with a CropBox inside its MediaBox; page 3 /Rotate 270 with a
               MediaBox that does not start at the origin and its
               resources inherited from the page tree
  pages20.pdf  twenty A4 pages of such text (the bench's document too)
"""

import io
import os
import sys

CJK = "价格调整通知 甲方与乙方签订合同"


def ucs2(text):
    return "".join("%04X" % ord(c) for c in text)


def content(n, x, y):
    return ("BT /F1 20 Tf %d %d Td <%s> Tj ET\nBT /F2 14 Tf %d %d Td (Contract page %d) Tj ET"
            % (x, y, ucs2(CJK), x, y - 30, n)).encode("ascii")


def write_pdf(path, pages):
    """pages: (page dictionary extra bytes, content bytes) each."""
    objects = []

    def add(body):
        objects.append(body)
        return len(objects)

    catalog = add(None)
    tree = add(None)
    desc = add(b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 /FontBBox [0 -200 1000 900]"
               b" /ItalicAngle 0 /Ascent 880 /Descent -120 /CapHeight 880 /StemV 93 >>")
    cid = add(b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light /CIDSystemInfo"
              b" << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> /FontDescriptor %d 0 R /DW 1000 >>" % desc)
    cjk = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light /Encoding /UniGB-UCS2-H"
              b" /DescendantFonts [%d 0 R] >>" % cid)
    helv = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    resources = b"<< /Font << /F1 %d 0 R /F2 %d 0 R >> >>" % (cjk, helv)
    kids = []
    for extra, data in pages:
        stream = add(b"<< /Length %d >>\nstream\n" % len(data) + data + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R %s /Contents %d 0 R >>" % (tree, extra, stream)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % tree
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d /Resources %s >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids), resources)
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, catalog, xref))
    with open(path, "wb") as f:
        f.write(out.getvalue())


def main(out):
    os.makedirs(out, exist_ok=True)
    a4 = b"/MediaBox [0 0 595 842]"
    write_pdf(os.path.join(out, "turned.pdf"), [
        (a4, content(1, 72, 760)),
        (a4 + b" /CropBox [60 80 535 780] /Rotate 90", content(2, 100, 700)),
        (b"/MediaBox [50 50 662 842] /Rotate 270", content(3, 120, 700)),
    ])
    write_pdf(os.path.join(out, "pages20.pdf"), [(a4, content(n + 1, 72, 760)) for n in range(20)])


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
