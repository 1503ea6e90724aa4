#!/usr/bin/env python3
"""Makes the documents of the extraction tests (tests/extract) in a folder.

    make_documents.py OUT_DIR

Everything is written by hand here with the standard library (zipfile,
zlib), so no binary is committed:

  cjk_text.pdf      one page, a Chinese text layer in the predefined CJK font
                    STSong-Light with the CMap UniGB-UCS2-H (poppler-data
                    maps it to Unicode) and an ASCII line in Helvetica
  pages20.pdf       20 such pages (the text-layer rate)
  contract.docx     word/document.xml with Chinese and ASCII runs
  prices.xlsx       shared strings and an inline string
  slides.pptx       two slides
  invoice.ofd       OFD.xml and Doc_0/Pages/Page_0/Content.xml with TextCode
  zip_bomb.docx     a DOCX whose document.xml inflates to 200 MiB

    make_documents.py --image-pdf IMAGE.jpg OUT.pdf WIDTH HEIGHT DPI

    make_documents.py --flate-bomb OUT.pdf

makes a page whose content stream, two FlateDecode filters deep, inflates
to a gigabyte of "q " operators (each saves the graphics state: memory and
CPU without end); it takes seconds, so only the test that needs it asks.

The --image-pdf form wraps a greyscale JPEG (made by ImageMagick, whose Debian security policy
refuses to write PDF) into a one-page PDF with no text layer: a scan.
"""

import io
import os
import sys
import zipfile
import zlib

CJK_LINES = ["价格调整通知", "甲方与乙方签订合同"]
ASCII_LINE = "Penalty clause 2026"


def ucs2_hex(text):
    return "".join("%04X" % ord(c) for c in text)


def write_pdf(path, page_contents, raw_streams=None, xobject=None, media=(595, 842)):
    """page_contents: one bytes content stream per page (uncompressed unless
    raw_streams gives (dict_extra, data) for a page)."""
    objects = []

    def add(body):
        objects.append(body)
        return len(objects)

    catalog = add(None)
    pages = add(None)
    cjk_descriptor = add(b"<< /Type /FontDescriptor /FontName /STSong-Light /Flags 6 "
                         b"/FontBBox [0 -200 1000 900] /ItalicAngle 0 /Ascent 880 "
                         b"/Descent -120 /CapHeight 880 /StemV 93 >>")
    cid_font = add(b"<< /Type /Font /Subtype /CIDFontType0 /BaseFont /STSong-Light "
                   b"/CIDSystemInfo << /Registry (Adobe) /Ordering (GB1) /Supplement 2 >> "
                   b"/FontDescriptor %d 0 R /DW 1000 >>" % cjk_descriptor)
    cjk = add(b"<< /Type /Font /Subtype /Type0 /BaseFont /STSong-Light "
              b"/Encoding /UniGB-UCS2-H /DescendantFonts [%d 0 R] >>" % cid_font)
    helvetica = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    resources_extra = b""
    if xobject is not None:
        image = add(xobject)
        resources_extra = b" /XObject << /Im1 %d 0 R >>" % image
    kids = []
    for i, content in enumerate(page_contents):
        if raw_streams and i in raw_streams:
            extra, data = raw_streams[i]
        else:
            extra, data = b"", content
        stream = add(b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] "
                        b"/Resources << /Font << /F1 %d 0 R /F2 %d 0 R >>%s >> /Contents %d 0 R >>"
                        % (pages, media[0], media[1], cjk, helvetica, resources_extra, stream)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages
    objects[pages - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))

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
    out.write(b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, catalog, xref))
    with open(path, "wb") as f:
        f.write(out.getvalue())


def text_page(number=None):
    lines = []
    y = 760
    for line in CJK_LINES:
        lines.append("BT /F1 24 Tf 72 %d Td <%s> Tj ET" % (y, ucs2_hex(line)))
        y -= 40
    tail = ASCII_LINE if number is None else "%s page %d" % (ASCII_LINE, number)
    lines.append("BT /F2 18 Tf 72 %d Td (%s) Tj ET" % (y, tail))
    return "\n".join(lines).encode("ascii")


def deflate_repeated(chunk, times):
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(chunk) for _ in range(times)]
    parts.append(compressor.flush())
    return b"".join(parts)


def flate_bomb_pdf(path):
    # Inner: 1 GiB of "q " (1 MiB chunks); outer: that stream deflated again.
    inner = deflate_repeated(b"q " * (1 << 19), 1024)
    outer = zlib.compress(inner, 9)
    write_pdf(path, [b""], raw_streams={
        0: (b"/Filter [/FlateDecode /FlateDecode]", outer)})


def office_zip(path, parts):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts:
            z.writestr(name, data)


CONTENT_TYPES = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                 '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="xml" ContentType="application/xml"/>'
                 '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 '<Override PartName="%s" ContentType="%s"/></Types>')
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx(path, body_xml):
    office_zip(path, [
        ("[Content_Types].xml", CONTENT_TYPES % (
            "/word/document.xml",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")),
        ("_rels/.rels", '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'),
        ("word/document.xml", body_xml),
    ])


def make_docx(path):
    docx(path, '<?xml version="1.0" encoding="UTF-8"?><w:document %s><w:body>'
         '<w:p><w:r><w:t>价格</w:t></w:r><w:r><w:t>调整</w:t></w:r></w:p>'
         '<w:p><w:r><w:t xml:space="preserve">甲方 Penalty </w:t></w:r><w:r><w:tab/><w:t>clause</w:t></w:r></w:p>'
         '</w:body></w:document>' % W)


def make_zip_bomb_docx(path):
    # 200 MiB of one w:t (over the 32 MiB entry cap), deflated to ~200 KiB.
    head = '<?xml version="1.0"?><w:document %s><w:body><w:p><w:r><w:t>' % W
    tail = '</w:t></w:r></w:p></w:body></w:document>'
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", CONTENT_TYPES % ("/word/document.xml", "application/xml"))
        with z.open("word/document.xml", "w") as f:
            f.write(head.encode())
            chunk = b"A" * (1 << 20)
            for _ in range(200):
                f.write(chunk)
            f.write(tail.encode())


def make_xlsx(path):
    office_zip(path, [
        ("[Content_Types].xml", CONTENT_TYPES % (
            "/xl/workbook.xml",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")),
        ("xl/workbook.xml", '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
         '<sheets><sheet name="价格" sheetId="1"/></sheets></workbook>'),
        ("xl/sharedStrings.xml", '<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2" uniqueCount="2">'
         '<si><t>价格调整</t></si><si><r><t>单价</t></r><r><t xml:space="preserve"> unit price</t></r></si></sst>'),
        ("xl/worksheets/sheet1.xml", '<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
         '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1"><v>12345</v></c></row>'
         '<row r="2"><c r="A2" t="inlineStr"><is><t>违约金 penalty</t></is></c></row></sheetData></worksheet>'),
    ])


def make_pptx(path):
    A = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
    slide = ('<?xml version="1.0"?><p:sld %s><p:cSld><p:spTree><p:sp><p:txBody>'
             '<a:p><a:r><a:t>%s</a:t></a:r></a:p></p:txBody></p:sp></p:spTree></p:cSld></p:sld>')
    office_zip(path, [
        ("[Content_Types].xml", CONTENT_TYPES % (
            "/ppt/presentation.xml",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml")),
        ("ppt/presentation.xml", '<?xml version="1.0"?><p:presentation %s/>' % A),
        ("ppt/slides/slide2.xml", slide % (A, "第二页 second")),
        ("ppt/slides/slide1.xml", slide % (A, "第一页 年度报告")),
    ])


def make_ofd(path):
    ns = 'xmlns:ofd="http://www.ofdspec.org/2016"'
    page = ('<?xml version="1.0" encoding="UTF-8"?><ofd:Page %s><ofd:Content><ofd:Layer ID="1">'
            '<ofd:TextObject ID="2" Boundary="10 10 100 10" Font="3" Size="5">'
            '<ofd:TextCode X="0" Y="5" DeltaX="5 5 5 5">%s</ofd:TextCode></ofd:TextObject>'
            '<ofd:TextObject ID="4" Boundary="10 20 100 10" Font="3" Size="5">'
            '<ofd:TextCode X="0" Y="5">%s</ofd:TextCode></ofd:TextObject>'
            '</ofd:Layer></ofd:Content></ofd:Page>')
    office_zip(path, [
        ("OFD.xml", '<?xml version="1.0" encoding="UTF-8"?><ofd:OFD %s Version="1.0" DocType="OFD">'
         '<ofd:DocBody><ofd:DocInfo><ofd:DocID>0</ofd:DocID></ofd:DocInfo>'
         '<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>' % ns),
        ("Doc_0/Document.xml", '<?xml version="1.0" encoding="UTF-8"?><ofd:Document %s><ofd:Pages>'
         '<ofd:Page ID="1" BaseLoc="Pages/Page_0/Content.xml"/><ofd:Page ID="5" BaseLoc="Pages/Page_1/Content.xml"/>'
         '</ofd:Pages></ofd:Document>' % ns),
        ("Doc_0/Pages/Page_1/Content.xml", page % (ns, "第二页", "Total 100")),
        ("Doc_0/Pages/Page_0/Content.xml", page % (ns, "电子发票", "价格调整 Invoice")),
    ])


def image_pdf(jpeg, out, width, height, dpi):
    with open(jpeg, "rb") as f:
        data = f.read()
    xobject = (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
               b"/BitsPerComponent 8 /Filter /DCTDecode /Length %d >>\nstream\n"
               % (width, height, len(data)) + data + b"\nendstream")
    w = width * 72 // dpi
    h = height * 72 // dpi
    write_pdf(out, [b"q %d 0 0 %d 0 0 cm /Im1 Do Q" % (w, h)], xobject=xobject, media=(w, h))


def main(out):
    os.makedirs(out, exist_ok=True)
    write_pdf(os.path.join(out, "cjk_text.pdf"), [text_page()])
    write_pdf(os.path.join(out, "pages20.pdf"), [text_page(n + 1) for n in range(20)])
    make_docx(os.path.join(out, "contract.docx"))
    make_zip_bomb_docx(os.path.join(out, "zip_bomb.docx"))
    make_xlsx(os.path.join(out, "prices.xlsx"))
    make_pptx(os.path.join(out, "slides.pptx"))
    make_ofd(os.path.join(out, "invoice.ofd"))


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "--image-pdf":
        image_pdf(sys.argv[2], sys.argv[3], *(int(a) for a in sys.argv[4:7]))
        sys.exit(0)
    if len(sys.argv) == 3 and sys.argv[1] == "--flate-bomb":
        flate_bomb_pdf(sys.argv[2])
        sys.exit(0)
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1])
