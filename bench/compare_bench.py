#!/usr/bin/env python3
"""Version comparison latency through a running custosd (docs/api.md
"Version comparison").

Used by bench/run.py's section "compare", which starts the server and signs
in a legal user. The documents are made here, at run time, with the PDF
writer of tests/extract (tests/extract/make_documents.py): a 50-page A4
contract with a Chinese and English text layer (about 1,500 characters a
page: clauses in Chinese, then their English version), and its amendment,
the same contract with a few dozen scattered edits (amounts, dates, periods
and clauses changed in both languages, one paragraph inserted and one
deleted). Paragraphs are wrapped on their own, so an edit changes only its
own lines. Each of `records` pairs is checked in as its own contract record
with the amendment as version 2 (each with its own files and keys); both
texts are waited for, and then, over one kept-alive HTTPS connection:

  first_ms       GET /v1/records/{id}/compare?from=1&to=2 once per record:
                 the write transaction that logs two content.read events,
                 opening both sealed texts, the difference by character and
                 word, the JSON; median and p95 over the records, and each
                 record's figure in first_ms_per_record
  repeat_ms      the same request again, `repeats` times over the records
                 (nothing is cached: each is the whole work again)
  from_chars / to_chars   the extracted texts' lengths in characters,
                 from the segments of the answer
  changed_segments        the answer's delete and insert segments
  answer_bytes   the size of the JSON answer
"""

import json
import os
import random
import sys
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "extract"))
import make_documents  # noqa: E402
# The HTTP and statistics helpers are the preview bench's.
from preview_bench import multipart, request, summary_ms  # noqa: E402,F401

PAGES = 50
CJK_PER_LINE = 40   # 10 pt STSong-Light across 400 pt
ASCII_PER_LINE = 92  # 9 pt Helvetica across 440 pt
CJK_SIZE, ASCII_SIZE, LEADING = 10, 9, 13

# Clause templates: {n} the article number, then the fields an amendment may
# change. Chinese first, the English version of the article after it.
CJK_CLAUSES = [
    "第{n}条 付款方式。甲方应于{date}前向乙方支付本阶段合同价款人民币{amount}元，乙方应在收到款项后{days}日内开具"
    "等额增值税专用发票。逾期付款的，每逾期一日，甲方应按未付金额的百分之{pct}向乙方支付违约金，"
    "但违约金总额不超过合同总价的百分之十。",
    "第{n}条 交付与验收。乙方应于{date}前将合同约定的设备运至甲方指定地点，并负责安装调试。甲方应在设备到货后"
    "{days}个工作日内组织验收，验收合格的，双方签署验收证书；验收不合格的，乙方应在收到书面通知后七日内"
    "更换或修理，由此产生的费用由乙方承担，本阶段质保金为人民币{amount}元。",
    "第{n}条 质量保证。乙方保证所供货物为全新、未使用过的合格产品，符合国家标准及合同技术规格书的要求。质量"
    "保证期为自验收合格之日起{days}个月，保证期内因质量问题造成的损失由乙方承担，乙方应按甲方要求在百分之"
    "{pct}的范围内减价或赔偿，自{date}起计算。",
    "第{n}条 保密义务。双方对因履行本合同而知悉的对方商业秘密、技术资料及客户信息负有保密义务，未经对方书面"
    "同意，不得向任何第三方披露。保密期限自本合同签订之日起至{date}止，违反本条约定的一方应向守约方支付"
    "违约金人民币{amount}元，并赔偿由此造成的全部损失。",
    "第{n}条 知识产权。乙方保证其提供的货物、软件及技术资料不侵犯任何第三方的专利权、商标权或著作权。如发生"
    "侵权纠纷，由乙方负责处理并承担全部责任，甲方因此遭受的损失，乙方应在{days}日内予以赔偿，赔偿上限为"
    "人民币{amount}元，该上限不适用于故意侵权。",
    "第{n}条 合同变更。本合同的任何变更须经双方协商一致并以书面形式确定，变更后的条款自{date}起生效。因国家"
    "政策调整导致原材料价格上涨超过百分之{pct}的，乙方可在{days}日内书面提出调价申请，经甲方审核同意后"
    "执行，调价部分另行签订补充协议。",
    "第{n}条 不可抗力。因地震、台风、水灾、战争、疫情等不能预见、不能避免并不能克服的客观情况致使合同不能"
    "履行的，受影响的一方应在事件发生后{days}日内通知对方，并提供有关机构出具的证明。不可抗力持续超过"
    "九十日的，双方可协商解除合同，已履行部分按实际完成量结算，结算金额不超过人民币{amount}元。",
    "第{n}条 争议解决。因本合同引起的或与本合同有关的任何争议，双方应友好协商解决；协商不成的，任何一方均"
    "可向甲方所在地有管辖权的人民法院提起诉讼。诉讼期间，除争议部分外，双方应继续履行本合同其他条款，"
    "本条款自{date}起适用，相关费用按百分之{pct}分担。",
]
ENGLISH_CLAUSES = [
    "Article {n} Payment. The Buyer shall pay the Seller RMB {amount} for this stage no later than {date}. "
    "The Seller shall issue a special VAT invoice for the same amount within {days} days after receipt of "
    "payment. For each day of late payment the Buyer shall pay liquidated damages of {pct} percent of the "
    "unpaid amount, provided that the total does not exceed ten percent of the contract price.",
    "Article {n} Delivery and Acceptance. The Seller shall deliver the equipment to the site designated by "
    "the Buyer by {date} and shall install and commission it. The Buyer shall carry out the acceptance test "
    "within {days} working days after arrival. Where the equipment fails the test, the Seller shall replace "
    "or repair it at its own cost within seven days; the retention money for this stage is RMB {amount}.",
    "Article {n} Warranty. The Seller warrants that the goods are new, unused and conform to the national "
    "standards and to the technical specification. The warranty period is {days} months from acceptance, "
    "counted from {date}. Within that period the Seller shall bear any loss caused by defects and shall "
    "reduce the price or compensate the Buyer within {pct} percent as the Buyer may require.",
    "Article {n} Confidentiality. Each party shall keep confidential the trade secrets, technical data and "
    "customer information of the other party that it learns in performing this contract, and shall not "
    "disclose them to any third party without written consent. This obligation lasts until {date}. A party "
    "in breach shall pay liquidated damages of RMB {amount} and compensate all resulting losses.",
    "Article {n} Intellectual Property. The Seller warrants that the goods, software and documentation do "
    "not infringe any patent, trademark or copyright of a third party. The Seller shall handle any claim "
    "and shall indemnify the Buyer within {days} days, up to RMB {amount}; the cap does not apply to "
    "wilful infringement.",
    "Article {n} Amendment. Any amendment to this contract requires the written agreement of both parties "
    "and takes effect on {date}. Where a change in state policy raises the price of raw materials by more "
    "than {pct} percent, the Seller may apply in writing within {days} days for a price adjustment, which "
    "shall be recorded in a supplementary agreement once approved by the Buyer.",
    "Article {n} Force Majeure. A party prevented from performing by earthquake, typhoon, flood, war, "
    "epidemic or other events that could not be foreseen, avoided or overcome shall notify the other party "
    "within {days} days and provide a certificate issued by the competent authority. Where the event lasts "
    "more than ninety days, the parties may terminate the contract and settle up to RMB {amount}.",
    "Article {n} Disputes. Any dispute arising from or in connection with this contract shall be settled by "
    "friendly negotiation; failing that, either party may bring an action before the competent people's "
    "court where the Buyer is domiciled. This article applies from {date}, and the parties shall share the "
    "costs at {pct} percent; the undisputed parts of the contract remain in force.",
]
# Clause words an amendment rewrites (the other edits change a field).
CJK_REWORDS = [("友好协商", "平等协商"), ("书面形式", "书面或电子形式"), ("全部损失", "直接损失"),
               ("七日内", "十日内"), ("国家标准", "国家标准和行业标准")]
ENGLISH_REWORDS = [("shall", "must"), ("written consent", "prior written consent"),
                   ("all resulting losses", "direct losses only"), ("seven days", "ten days"),
                   ("friendly negotiation", "good-faith negotiation")]
INSERTED = ("cjk", "第{n}条之一 数据保护。乙方在提供服务过程中接触甲方个人信息的，应遵守《中华人民共和国个人信息保护法》，"
            "仅为履行本合同之目的处理，采取必要的安全措施防止信息泄露，并于合同终止后三十日内删除或返还全部个人信息。")


def _fields(rng):
    return {
        "amount": f"{rng.randrange(10, 9000) * 1000:,}.00",
        "date": f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
        "days": str(rng.choice([5, 7, 10, 15, 20, 30, 45, 60])),
        "pct": str(rng.choice([0.03, 0.05, 0.1, 0.5, 1, 2, 3, 5])),
    }


def contract_paragraphs(seed):
    """Pages of paragraphs (lang, template, fields, n) of version 1."""
    rng = random.Random(seed)
    pages, n = [], 1
    for _ in range(PAGES):
        page = []
        for _ in range(3):  # three articles, Chinese then English: ~1,500 characters
            k = rng.randrange(len(CJK_CLAUSES))
            f = _fields(rng)
            page.append(["cjk", CJK_CLAUSES[k], f, n])
            page.append(["en", ENGLISH_CLAUSES[k], dict(f), n])
            n += 1
        pages.append(page)
    return pages


def amend(pages, seed):
    """Version 2: a few dozen edits scattered over the pages (changed fields
    and reworded clauses in both languages), one paragraph inserted and one
    deleted. Returns the new pages and the number of edits."""
    rng = random.Random(seed + 1)
    new = [[[lang, t, dict(f), n] for lang, t, f, n in page] for page in pages]
    edits = 0
    for p in range(1, PAGES, 2):  # every other page: 25 pages, about 40 edits
        page = new[p]
        for _ in range(1 + (p % 3 == 0)):
            para = page[rng.randrange(len(page))]
            key = rng.choice(["amount", "date", "days", "pct"])
            if "{" + key + "}" not in para[1]:
                key = "date" if "{date}" in para[1] else "amount"
            old = para[2][key]
            while para[2][key] == old:
                para[2][key] = _fields(rng)[key]
            edits += 1
        if p % 5 == 0:
            para = page[rng.randrange(len(page))]
            rewords = CJK_REWORDS if para[0] == "cjk" else ENGLISH_REWORDS
            for a, b in rewords:
                if a in para[1]:
                    para[1] = para[1].replace(a, b, 1)
                    edits += 1
                    break
    new[17].insert(2, [INSERTED[0], INSERTED[1], {}, 18])
    del new[33][3]
    return new, edits + 2


def _wrap(lang, text):
    if lang == "cjk":
        return [text[i:i + CJK_PER_LINE] for i in range(0, len(text), CJK_PER_LINE)]
    return textwrap.wrap(text, ASCII_PER_LINE)


def _ascii_literal(line):
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def page_stream(paragraphs, number):
    ops, y = [], 800
    for lang, template, fields, n in paragraphs:
        text = template.format(n=n, **fields)
        for line in _wrap(lang, text):
            if lang == "cjk":
                ops.append("BT /F1 %d Tf 72 %d Td <%s> Tj ET" % (CJK_SIZE, y, make_documents.ucs2_hex(line)))
            else:
                ops.append("BT /F2 %d Tf 72 %d Td (%s) Tj ET" % (ASCII_SIZE, y, _ascii_literal(line)))
            y -= LEADING
        y -= LEADING // 2
    ops.append("BT /F2 8 Tf 280 30 Td (- %d -) Tj ET" % number)
    return "\n".join(ops).encode("ascii")


def write_contract(path, pages):
    make_documents.write_pdf(path, [page_stream(p, i + 1) for i, p in enumerate(pages)])
    with open(path, "rb") as f:
        return f.read()


def wait_texts(conn, token, record_id, limit_s=600):
    """Waits until every file of every version has its text extracted."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        status, body = request(conn, token, "GET", f"/v1/records/{record_id}")
        if status != 200:
            raise RuntimeError(f"GET record {record_id}: HTTP {status}")
        states = [f.get("extraction", {}).get("state")
                  for v in json.loads(body)["versions"] for f in v["files"]]
        if len(states) == 2 and all(s == "text" for s in states):
            return
        if any(s in ("no_text", "failed") for s in states):
            raise RuntimeError(f"{record_id}: extraction states {states}")
        time.sleep(0.2)
    raise RuntimeError(f"the pipeline did not extract {record_id}'s texts within {limit_s} s")


def timed_compare(conn, token, record_id):
    path = f"/v1/records/{record_id}/compare?from=1&to=2"
    t0 = time.monotonic()
    status, body = request(conn, token, "GET", path)
    seconds = time.monotonic() - t0
    if status != 200:
        raise RuntimeError(f"GET {path}: HTTP {status} {body[:200]!r}")
    return seconds, body


def answer_figures(body):
    answer = json.loads(body)
    files = answer["files"]
    if len(files) != 1 or files[0]["change"] != "changed":
        raise RuntimeError(f"compare: files {[(f['name'], f['change']) for f in files]}")
    text = files[0]["text"]
    if text.get("state") != "diff":
        raise RuntimeError(f"compare: text state {text.get('state')}")
    segs = text["segments"]
    return {
        "level": text.get("level"),
        "from_chars": sum(len(s["text"]) for s in segs if s["op"] in ("equal", "delete")),
        "to_chars": sum(len(s["text"]) for s in segs if s["op"] in ("equal", "insert")),
        "changed_segments": sum(1 for s in segs if s["op"] != "equal"),
        "answer_bytes": len(body),
    }


def check_in(conn, token, i, v1, v2):
    meta = {"type": "contract", "title": f"设备采购合同 supply contract bench {i:03d}",
            "department": "sales", "classification": "confidential",
            "metadata": {"counterparty": "华东设备有限公司 East China Equipment Co., Ltd.",
                         "contractNumber": f"BENCH-2026-{i:04d}", "signedDate": "2026-03-01",
                         "amount": "12500000.00", "currency": "CNY"}}
    body, ctype = multipart(meta, "采购合同.pdf", v1)
    status, answer = request(conn, token, "POST", "/v1/records", body, ctype)
    if status != 201:
        raise RuntimeError(f"check-in: HTTP {status} {answer[:200]!r}")
    rid = json.loads(answer)["id"]
    body, ctype = multipart({"kind": "amendment", "note": "第二版 价格与期限调整 amendment 2"},
                            "采购合同.pdf", v2)
    status, answer = request(conn, token, "POST", f"/v1/records/{rid}/versions", body, ctype)
    if status != 201:
        raise RuntimeError(f"new version: HTTP {status} {answer[:200]!r}")
    return rid


def measure(connect, archivist, reader, work, quick=False):
    """`connect()` opens an HTTPS connection to custosd; `archivist` is a
    session that checks in, `reader` the one that compares (legal)."""
    records = 2 if quick else 5
    repeats = 20 if quick else 100
    documents, edits = [], []
    for i in range(records):
        pages = contract_paragraphs(1000 + i)
        amended, n = amend(pages, 1000 + i)
        edits.append(n)
        v1 = write_contract(os.path.join(work, f"contract-{i}-v1.pdf"), pages)
        v2 = write_contract(os.path.join(work, f"contract-{i}-v2.pdf"), amended)
        documents.append((v1, v2))
    conn = connect()
    try:
        ids = [check_in(conn, archivist, i, v1, v2) for i, (v1, v2) in enumerate(documents)]
        for rid in ids:
            wait_texts(conn, archivist, rid)
        first, per_record, figures = [], [], []
        for rid in ids:
            s, body = timed_compare(conn, reader, rid)
            first.append(s)
            f = answer_figures(body)
            figures.append(f)
            per_record.append({"record": rid, "ms": s * 1000.0, "edits": edits[len(per_record)], **f})
        repeat = [timed_compare(conn, reader, ids[k % len(ids)])[0] for k in range(repeats)]
    finally:
        conn.close()
    return {
        "document": f"{PAGES}-page A4 contract PDF, Chinese and English text layer; version 2 with "
                    f"{min(edits)}-{max(edits)} edits (amounts, dates, periods, clauses; one paragraph inserted, one deleted)",
        "records": records,
        "edits": edits[0],
        "pdf_bytes": len(documents[0][0]),
        "first_ms": summary_ms(first),
        "repeat_ms": summary_ms(repeat),
        "first_ms_per_record": per_record,
        "from_chars": figures[0]["from_chars"],
        "to_chars": figures[0]["to_chars"],
        "changed_segments": figures[0]["changed_segments"],
        "level": figures[0]["level"],
        "answer_bytes": figures[0]["answer_bytes"],
        "caller": "legal",
        "client": "one kept-alive HTTPS connection, requests in sequence",
    }
