#!/usr/bin/env python3
"""Regenerates docs/benchmarks.md and its charts from one results file.

  bench/report.py bench/results/<UTC time>.json [LATER.json ...]

With more than one results file, the sections of each later file replace
those of the earlier ones (e.g. a full run, then a run of `--only scaleout`),
and the page names every file and which sections it gave. The page is written from scratch each time, except the hand-written notes
between the `<!-- notes -->` and `<!-- /notes -->` markers, which are kept
verbatim. Charts are drawn by gnuplot into docs/benchmarks/*.png.
"""
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DOC = os.path.join(REPO, "docs", "benchmarks.md")
CHART_DIR = os.path.join(REPO, "docs", "benchmarks")
NOTES_RE = re.compile(r"<!-- notes -->\n?(.*?)<!-- /notes -->", re.S)
DEFAULT_NOTES = ("_Profiling notes: what limits each figure and what is being done about it._\n")

GREEN, RED, GREY = "0x2ca02c", "0xd62728", "0x7f7f7f"
CUSTOS, PEER, BOUND = "0x1f77b4", "0xff7f0e", "0x7f7f7f"

# Short chart labels for the ratio rows.
SHORT = {
    "checkin_vs_pipeline": "check-in MB/s\\nvs crypto bound",
    "checkin_vs_restic": "check-in MB/s\\nvs restic",
    "checkin_vs_borg": "check-in MB/s\\nvs borg",
    "checkins_vs_fsync": "check-ins/s\\nvs fsync/s",
    "checkins_vs_borg": "check-ins/s\\nvs borg files/s",
    "reads_vs_nginx": "reads/s\\nvs nginx",
    "gets_vs_nginx": "record GETs/s\\nvs nginx JSON",
    "log_batched": "log appends/s\\nvs 10,000",
    "log_verify_vs_hashing": "log verify, leaves\\nper CPU s vs SHA-256",
    "log_verify_rss": "verifier peak RSS\\nvs 256 MiB",
    "log_proof": "proof p99\\nvs 1 ms",
    "rss_upload": "RSS upload\\nvs 64 MiB",
    "rss_download": "RSS download\\nvs 64 MiB",
    "search_p99": "search p99\\nvs 50 ms",
    "content_search_p99": "content search\\np99 vs 50 ms",
    "pipeline_checkins_on_vs_off": "check-ins/s\\nextraction on/off",
}


def fmt(v, unit=""):
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if not isinstance(v, (int, float)):
        return str(v)
    sep = "" if unit.startswith("/") else " "
    if isinstance(v, int):
        return f"{v:,}{sep}{unit}".strip()
    a = abs(v)
    if a >= 1000:
        s = f"{v:,.0f}"
    elif a >= 100:
        s = f"{v:.0f}"
    elif a >= 10:
        s = f"{v:.1f}"
    elif a == 0:
        s = "0"
    else:
        s = f"{v:.3g}"
    return f"{s}{sep}{unit}".strip() if unit else s


def get(d, *path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def wrk_errors(w):
    """wrk's non-2xx answers and socket errors, or 0."""
    parts = [f"{w['non_2xx']:,} non-2xx"] if w.get("non_2xx") else []
    parts += [f"{n:,} {k}" for k, n in (w.get("socket_errors") or {}).items() if n]
    return ", ".join(parts) or "0"


def figure_label(row, s):
    label = row["figure"]
    if row["id"] == "log_proof" and get(s, "log", "log_entries"):
        label += f" at {get(s, 'log', 'log_entries'):,.0f} entries"
    if row["id"] == "search_p99" and get(s, "search", "records"):
        label += f" at {get(s, 'search', 'records'):,.0f} records"
    if row["id"] == "content_search_p99" and get(s, "content_search", "records"):
        label += (f" at {get(s, 'content_search', 'records'):,.0f} records, "
                  f"{get(s, 'content_search', 'texts'):,.0f} with text")
    if row["id"].startswith("rss_") and get(s, "custos", "rss", "file_bytes"):
        label = label.replace("1 GiB", f"{get(s, 'custos', 'rss', 'file_bytes') / 2**20:,.0f} MiB")
    return label


def why_missing(row, s):
    """Why a row has no figure: the section's skip note or error, if any."""
    section = {"log": "log", "search": "search", "scaleout": "scaleout",
               "content": "content_search", "pipeline": "pipeline"}.get(row["id"].split("_")[0])
    for name in ([section] if section else ["custos", "peers", "bounds"]):
        sec = s.get(name)
        if sec is None:
            return f"{name} not run"
        if sec.get("skipped"):
            return sec["skipped"]
        if sec.get("error"):
            return f"{name} failed"
    return "not measured"


# --- charts ------------------------------------------------------------------


def gp_quote(text):
    return '"' + text.replace('"', "'") + '"'


def bar_chart(path, title, ylabel, bars, logscale=False, targets=None, legend=None):
    """bars: [(label, value, rgb)], targets: [value or None] drawn as a red
    line across each bar; legend: [(name, rgb)]."""
    bars = [(l, v, c) for l, v, c in bars]
    vals = [v for _, v, _ in bars if v] + [t for t in (targets or []) if t]
    if not vals:
        return False
    lo = min(vals) / 3 if logscale else 0
    hi = max(vals) * (3 if logscale else 1.2)
    data = []
    for i, (label, v, rgb) in enumerate(bars):
        t = targets[i] if targets and targets[i] is not None else "NaN"
        data.append(f"{i} {v if v is not None else 'NaN'} {t} {rgb} {gp_quote(label)}")
    script = [
        "set terminal pngcairo size 1200,540 font 'sans,10'",
        f"set output {gp_quote(path)}",
        f"set title {gp_quote(title)}",
        f"set ylabel {gp_quote(ylabel)}",
        "set grid ytics",
        "set key below center horizontal",
        "set style fill solid 0.85 border -1",
        f"set xrange [-0.6:{len(bars) - 0.4}]",
        f"set yrange [{lo}:{hi}]",
        "set xtics nomirror scale 0",
        "set bmargin 5",
    ]
    if logscale:
        script.append("set logscale y")
    script.append("$d << EOD\n" + "\n".join(data) + "\nEOD")
    bottom = lo if logscale else 0
    plots = [f"$d using 1:({bottom}):($1-0.35):($1+0.35):({bottom}):2:4:xtic(5) "
             "with boxxyerror lc rgb variable notitle"]
    if targets:
        plots.append("$d using 1:3:(0.45) with xerrorbars lw 3 pt 0 lc rgb '#000000' title 'target'")
    for name, rgb in legend or []:
        plots.append(f"NaN with boxes lc rgb '#{rgb[2:]}' title {gp_quote(name)}")
    script.append("plot " + ", \\\n     ".join(plots))
    p = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True,
                       capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(f"gnuplot failed for {os.path.basename(path)}: {p.stderr.strip()}")
    return True


def charts(results):
    """Draws the charts; returns [(file name, alt text)] of those drawn."""
    os.makedirs(CHART_DIR, exist_ok=True)
    s = results["sections"]
    drawn = []
    ratios = [r for r in results["ratios"] if r["ratio"] is not None and r["op"]]

    def met_rgb(r):
        return GREEN if r["met"] else RED

    legend_met = [("target met", GREEN), ("target not met", RED)]
    for op, png, title, ylabel, caption in (
            (">=", "ratios.png", "Custos / bound or peer, measured in the same run (higher is better)",
             "ratio (log scale)", "Ratios against their minimum targets"),
            ("<", "limits.png", "Custos / limit (lower is better; the target is below 1)",
             "ratio to the limit (log scale)", "Latency and memory against their limits")):
        rows = [r for r in ratios if r["op"] == op]
        if bar_chart(os.path.join(CHART_DIR, png), title, ylabel,
                     [(SHORT.get(r["id"], r["id"]), r["ratio"], met_rgb(r)) for r in rows],
                     logscale=True, targets=[r["target"] for r in rows], legend=legend_met):
            drawn.append((png, caption))

    mbps = [
        ("Custos check-in\\n1 client", get(s, "custos", "checkin_16MiB_1client", "MBps"), CUSTOS),
        ("Custos check-in\\n2 clients", get(s, "custos", "checkin_16MiB_2clients", "MBps"), CUSTOS),
        ("restic\\nbackup", get(s, "peers", "restic", "large", "backup_MBps"), PEER),
        ("borg\\ncreate", get(s, "peers", "borg", "large", "backup_MBps"), PEER),
        ("crypto pipeline\\nbound", get(s, "bounds", "pipeline_bound_MBps"), BOUND),
        ("custosctl\\nverify", get(s, "custos", "verify", "MBps"), CUSTOS),
        ("restic check\\n--read-data", get(s, "peers", "restic", "large", "check_MBps"), PEER),
        ("borg check\\n--verify-data", get(s, "peers", "borg", "large", "check_MBps"), PEER),
    ]
    legend = [("Custos", CUSTOS), ("peer", PEER), ("bound", BOUND)]
    if bar_chart(os.path.join(CHART_DIR, "throughput.png"),
                 "Throughput of 16 MiB files (verify: the whole archive), MB/s",
                 "MB/s", [m for m in mbps if m[1] is not None], legend=legend):
        drawn.append(("throughput.png", "Throughput in MB/s, Custos against restic, borg and the crypto bound"))
    rates = [
        ("Custos\\ncheck-ins/s", get(s, "custos", "checkin_64KiB_16clients", "per_s"), CUSTOS),
        ("disk\\nfsync/s", get(s, "bounds", "fsync", "fsyncs_per_s"), BOUND),
        ("borg\\nfiles/s", get(s, "peers", "borg", "small", "backup_files_per_s"), PEER),
        ("restic\\nfiles/s", get(s, "peers", "restic", "small", "backup_files_per_s"), PEER),
        ("Custos\\ncontent reads/s", get(s, "custos", "content_reads", "req_per_s"), CUSTOS),
        ("nginx\\nfile reads/s", get(s, "peers", "nginx", "files", "req_per_s"), PEER),
        ("Custos\\nrecord GETs/s", get(s, "custos", "catalogue_gets", "req_per_s"), CUSTOS),
        ("nginx\\nJSON GETs/s", get(s, "peers", "nginx", "json", "req_per_s"), PEER),
        ("check-ins/s\\nPostgreSQL\\n1 node", get(s, "scaleout", "checkin_64KiB_1node", "per_s"),
         CUSTOS),
        ("check-ins/s\\nPostgreSQL\\n2 nodes", get(s, "scaleout", "checkin_64KiB_2nodes", "per_s"),
         CUSTOS),
        ("pgbench\\ncommits/s", get(s, "scaleout", "pgbench_insert", "tps"), BOUND),
    ]
    if bar_chart(os.path.join(CHART_DIR, "rates.png"),
                 "64 KiB files and records per second (log scale)",
                 "per second", [r for r in rates if r[1] is not None], logscale=True,
                 legend=legend):
        drawn.append(("rates.png", "Operations per second, Custos against nginx, borg, restic, the disk and pgbench"))
    return drawn


# --- the page ------------------------------------------------------------------


INTRO = """\
# Benchmarks

<!-- Generated by bench/report.py from {source}. Edit only the notes at the end;
     everything else is rewritten by the next `make bench`. -->

`make bench` runs `bench/run.py`, which measures, in one go on this machine,
Custos and the bounds and peers it is judged against (DESIGN §8): the
single-core crypto bound (`openssl speed`), the disk's fsync rate, restic and
borg backing up the same files, and nginx serving the same files over the same
TLS. Every target is a **ratio against a figure measured in the same run**, so
a slow or busy machine moves both sides; absolute numbers are only for
orientation.

```sh
make bench            # full: 2,000 × 64 KiB, 20 × 16 MiB, a 1 GiB file,
                      #       a 10-million-entry log, a 1-million-record catalogue,
                      #       content search at 1,000,000 records with 100,000
                      #       texts (hours), 2,000 text check-ins twice
make bench QUICK=1    # 300 × 64 KiB, 4 × 16 MiB, 256 MiB, 200,000 entries,
                      #       100,000 records, 20,000 with 2,000 texts,
                      #       300 text check-ins; a few minutes
python3 bench/run.py --bin build/bin --only content_search --content-scale 100000:10000
python3 bench/run.py --bin build/bin --only content_search --quick --content-postgresql
python3 bench/run.py --bin build/bin --quick --only custos,peers   # some sections
python3 bench/run.py --bin build/bin --quick --only scaleout      # PostgreSQL only
python3 bench/report.py bench/results/<time>.json                 # redraw this page
python3 bench/report.py FULL.json SCALEOUT.json   # later files' sections win
```

Each run writes every raw figure, ratio and target, and the machine, to
`bench/results/<UTC time>.json` (kept in the repository, so that figures can
be compared over time) and regenerates this page and its charts from it.
Sections: `corpus`, `bounds`, `custos`, `peers`, `search`,
`content_search`, `pipeline`, `log`, `extraction`, `loan_copy`, `preview`, `compare`, `tiles`, `attest`, `scaleout`. The work
directory is a fresh directory under `/var/tmp` (a real disk, not tmpfs),
removed at the end; servers listen on 127.0.0.1 only.
"""

METHOD = """\
## How each figure is measured

- **Corpus**: random (incompressible) files from a fixed seed, made at run
  time: 64 KiB files, 16 MiB files and one big file.
- **Crypto pipeline bound**: `openssl speed -evp` on one core at 16 KiB
  blocks; encrypting and hashing every byte costs both, so the bound is
  1 / (1/AES-256-GCM + 1/SHA-256).
- **fsync/s**: 4 KiB written and fsynced 2,000 times in the work directory.
- **restic / borg**: `restic backup` and `borg create` (repokey, encrypted)
  of the 16 MiB set (MB/s) and, into a fresh repository, the 64 KiB set
  (files/s); then `restic check --read-data` and `borg check --verify-data`.
- **nginx**: the 64 KiB files and a static JSON as large as a Custos record
  response, over TLS 1.2+ with custosd's cipher list and an EC P-256
  certificate, keep-alive on, access log off; `wrk -t2 -c64` cycling over the
  files.
- **Custos check-in**: multipart uploads over HTTPS, one TLS connection per
  client, from C clients as light as the one nginx is measured with. 16 MiB
  files: one `curl` per client, uploading its share of the files in turn,
  timed from the first start to the last exit. 64 KiB files: `wrk -t2 -c16`
  with `bench/checkin.lua`, each file once, timed from the first request to
  the last answer. Every check-in is durable (fsynced) and logged before the
  answer; any answer but 201 fails the run.
- **Content reads / record GETs**: `wrk -t2 -c64` with `bench/cycle.lua`
  cycling over the checked-in records with a bearer token; every content read
  is durably logged before its first byte. Any non-2xx answer fails the run.
- **Tiles** (`tiles`): a fresh archive whose log grows by content reads of
  one 64 KiB file (16 connections); `bench/tiles_bench.py` fetches every
  hash tile and entry bundle of the served checkpoint (full and partial,
  every level) to disk and checks that they rebuild its root; then
  `wrk -t2 -c64` over the full hash tiles and, separately, the full entry
  bundles, without a token, from custosd and from nginx serving the copied
  files (same TLS settings as for the 64 KiB files). Any non-2xx answer
  fails the run.
- **Witnesses and timestamps** (`attest`): `bench/attest_bench.cc`, in one
  process on a durable SQLite file: per checkpoint, one write of one event
  (committed, fsynced and signed), then one attester round that submits it
  to a local witness (the tests' C2SP witness over HTTP on 127.0.0.1) and
  stores the cosignature, then one round that gets an RFC 3161 token from a
  local authority (the tests' `openssl ts -reply` behind HTTP), checks it and
  stores it. Wall time per round and the attester thread's own CPU time;
  a round that stores no line fails the run.
- **Peak RSS**: custosd's high-water mark (`VmHWM`, reset through
  `/proc/PID/clear_refs`) during a curl upload, then a curl download, of the
  big file; VmRSS sampled every 50 ms as a cross-check.
- **custosctl verify**: the offline check of the whole archive after the
  above, in content MB/s.
- **Search**: `catalogue_seed` fills a fresh archive, then 2,000
  `GET /v1/records?q=…` over 4 connections.
- **Content search** (`content_search`): `search_bench` in-process on a
  real SQLite file (durable, rows sealed and checked, as custosd opens
  it; with `--content-postgresql` also on a throwaway PostgreSQL). N − M
  records through the records repository with the postings of their
  titles and descriptions, 1,000 per transaction; M records checked in
  through `RecordService` with one file each, about 3,000 characters of
  generated Chinese and Latin text, then sealed under the file's key and
  indexed as the pipeline does (`TermFrequencies`, `KeyedFrequencies`,
  `Replace`), 1,000 per transaction. A search is `RecordService::Search`
  with the index key, page size 20, without HTTP: keyed tokens matched in
  the postings (at most 2,000), content rights checked, the catalogue
  page, where each hit matched, content snippets from the sealed texts and
  their `content.snippet` events; once by an archivist (reads content) and
  once by a staff member (reads none). 27 queries in 7 classes, 20 rounds
  after a warm-up; "postings" is `Match` alone. Index bytes per byte of
  text: the database file after closing the store (WAL checkpointed)
  before and after the content postings, over the text's UTF-8 bytes.
- **Check-in with the content pipeline** (`pipeline`): two-page UTF-8
  texts of Chinese and Latin words (`bench/text_corpus.py`) checked in
  with `wrk -t2 -c16` and `bench/checkin.lua` into a fresh archive with
  `extraction.enabled = true`, and into another with `false`; the best
  check-ins/s of each over the rounds (the order alternating). With it on,
  the records are then polled until every file has a final extraction
  state, which gives how long the pipeline takes to catch up.
- **Audit log**: `log_bench` (Google Benchmark) in-process on a real SQLite
  file.
- **Scale-out on PostgreSQL**: `scripts/test-postgres.sh` starts a throwaway
  PostgreSQL 15 (its defaults: fsync and synchronous_commit on) beside the
  work directory; it is stopped and removed at the end of the section, also
  on failure. Its bound is **pgbench against the same server**: one small
  `INSERT` per transaction, `pgbench -n -c 16 -j 2 -T 10` (3 s in quick
  mode), in commits/s; the default simple-update script (`-N`, scale 1) is
  shown beside it. Then `custosctl init --backend postgresql` makes one
  archive in that server, and the 64 KiB files are checked in as in the
  SQLite figure: once against one custosd (`wrk -t2 -c16`), then, on the
  same data directory and database, against two custosd nodes at once, the
  files split in halves, one `wrk -t1 -c8` per node (still 16 clients and
  two client threads), timed from the first request of either to the last
  answer of both. Each node's records are then found through the other
  node, and `custosctl verify` checks the whole archive and its log after
  the nodes stop. Writes of all nodes serialize on one advisory lock, each
  node group-committing its queue, so the ratios to read are check-ins/s ÷
  pgbench commits/s and 2 nodes ÷ 1 node; the nodes, PostgreSQL and the
  clients share this machine's cores.
"""


CLASS_LABELS = {
    "two_chars_frequent": "two-character words, the 5 most frequent",
    "two_chars_middle": "two-character words, ranks 100–400",
    "two_chars_rare": "two-character words, ranks 4,000–8,000",
    "four_char_phrase": "four-character phrases",
    "mixed": "a Chinese word and a Latin word",
    "latin_word": "Latin words",
    "absent": "a word in no document",
}


def content_search_section(results, out):
    cs = results["sections"].get("content_search")
    out.append("## Content search\n")
    if cs is None:
        out.append("Not run.\n")
        return
    if cs.get("skipped"):
        out.append(f"Skipped: {cs['skipped']}.\n")
        return
    if cs.get("error") and not cs.get("p99_ms"):
        out.append(f"Failed: {cs['error']}\n")
        return
    out.append(table(["", ""], [
        ["records / with text", f"{fmt(cs.get('records'))} / {fmt(cs.get('texts'))}"],
        ["text", f"{fmt(cs.get('text_bytes', 0) / 1e6)} MB UTF-8, "
                 f"{fmt(cs.get('text_chars_per_text'))} characters each"],
        ["postings: catalogue / content", f"{fmt(cs.get('catalogue_postings'))} / "
                                          f"{fmt(cs.get('content_postings'))}"],
        ["distinct keyed tokens", fmt(cs.get("distinct_tokens"))],
        ["database: catalogue only / with content",
         f"{fmt(cs.get('db_bytes_catalogue', 0) / 1e6)} MB / {fmt(cs.get('db_bytes', 0) / 1e6)} MB"],
        ["index bytes per byte of text", fmt(cs.get("index_bytes_per_text_byte"))],
        ["sealed texts", f"{fmt(cs.get('db_bytes_sealed_texts', 0) / 1e6)} MB "
                         f"({fmt(cs.get('sealed_bytes_per_text_byte'))} per byte of text)"],
        ["built in: catalogue records / check-ins with a text / content postings",
         f"{fmt(cs.get('catalogue_seconds'), 's')} ({fmt(cs.get('catalogue_s_per_1000_records'), 's')} "
         f"per 1,000) / {fmt(cs.get('checkin_seconds'), 's')} ({fmt(cs.get('checkin_s_per_1000'), 's')} "
         f"per 1,000) / {fmt(cs.get('text_seconds'), 's')} ({fmt(cs.get('text_s_per_1000_texts'), 's')} "
         "per 1,000)"],
        ["searches", f"{fmt(cs.get('queries'))} ({fmt(cs.get('distinct_queries'))} distinct)"],
        ["p50 / p99 / max, all searches", f"{fmt(cs.get('p50_ms'), 'ms')} / {fmt(cs.get('p99_ms'), 'ms')} / "
                                          f"{fmt(cs.get('max_ms'), 'ms')}"],
        ["p50 / p99, archivist (reads content: snippets, content.snippet logged)",
         f"{fmt(cs.get('archivist_p50_ms'), 'ms')} / {fmt(cs.get('archivist_p99_ms'), 'ms')}"],
        ["p50 / p99, staff (reads no content: every content match checked and dropped)",
         f"{fmt(cs.get('staff_p50_ms'), 'ms')} / {fmt(cs.get('staff_p99_ms'), 'ms')}"],
    ]))
    out.append("")
    iss = cs.get("issue_scale") or {}
    if (cs.get("records"), cs.get("texts")) != (iss.get("records"), iss.get("texts")) and \
            cs.get("issue_scale_build_s_linear"):
        out.append(f"Run at {fmt(cs.get('records'))} records, not at the issue's "
                   f"{fmt(iss.get('records'))} with {fmt(iss.get('texts'))} texts. At this run's "
                   f"rates, building that would take at least "
                   f"{fmt(cs['issue_scale_build_s_linear'] / 60)} min (a lower bound: inserts "
                   f"slow down as the B-tree grows) and its content postings about "
                   f"{fmt(cs.get('issue_scale_content_index_bytes', 0) / 1e9)} GB.\n")
    pg = cs.get("postgresql")
    if pg and pg.get("p99_ms") is not None:
        out.append(f"The same on PostgreSQL ({fmt(pg.get('records'))} records, {fmt(pg.get('texts'))} "
                   f"with text, a throwaway server of `scripts/test-postgres.sh`): p50 "
                   f"{fmt(pg.get('p50_ms'), 'ms')}, p99 {fmt(pg.get('p99_ms'), 'ms')} (archivist "
                   f"{fmt(pg.get('archivist_p99_ms'), 'ms')}, staff {fmt(pg.get('staff_p99_ms'), 'ms')}); "
                   f"`search_postings` {fmt(pg.get('search_postings_bytes', 0) / 1e6)} MB, about "
                   f"{fmt(pg.get('index_bytes_per_text_byte'))} bytes per byte of text (the content "
                   f"postings' share by rows).\n")
    elif pg and pg.get("error"):
        out.append(f"On PostgreSQL: failed ({pg['error']}).\n")
    rows = []
    for cls, v in (cs.get("classes") or {}).items():
        rows.append([CLASS_LABELS.get(cls, cls), f"{v.get('matched_min'):,}–{v.get('matched_max'):,}",
                     fmt(v.get("match_p50_ms"), "ms"), fmt(v.get("match_p99_ms"), "ms"),
                     fmt(v.get("p50_ms"), "ms"), fmt(v.get("p99_ms"), "ms")])
    if rows:
        out.append(table(["query class", "postings matches (≤ 2,000)", "postings p50", "postings p99",
                          "search p50", "search p99"], rows))
        out.append("")


def pipeline_section(results, out):
    pl = results["sections"].get("pipeline")
    out.append("## Check-in with the content pipeline\n")
    if pl is None:
        out.append("Not run.\n")
        return
    rows = []
    for mode, label in (("off", "extraction.enabled = false"), ("on", "extraction.enabled = true")):
        x = pl.get(mode)
        if x and x.get("per_s"):
            rows.append([label, f"{x['count']:,}", fmt(x["seconds"], "s"), fmt(x["per_s"], "/s"),
                         ", ".join(fmt(v, "/s") for v in x.get("per_s_all_rounds", [])),
                         fmt(x.get("p99_ms"), "ms"),
                         fmt(x.get("extraction_done_after_last_answer_s"), "s")])
    if rows:
        out.append(f"{fmt(pl.get('files'))} text files of {fmt(pl.get('file_bytes_mean'))} bytes on "
                   f"average, {pl.get('client')}.\n")
        out.append(table(["custosd", "check-ins", "wall", "check-ins/s (best)", "each round", "p99",
                          "extraction done after the last answer"], rows))
        out.append("")
    if pl.get("on_vs_off") is not None:
        out.append(f"On / off: {fmt(pl['on_vs_off'])} (target ≥ 0.9).\n")
    if pl.get("error"):
        out.append(f"Error: {pl['error']}\n")


def scaleout_section(results, out):
    s = results["sections"]
    so = s.get("scaleout")
    out.append("## Scale-out on PostgreSQL\n")
    if so is None:
        out.append("Not run.\n")
        return
    if so.get("error") and not so.get("pgbench_insert"):
        out.append(f"Failed: {so['error']}\n")
        return
    pgs = so.get("postgres") or {}
    if pgs:
        out.append(f"PostgreSQL {pgs.get('server_version', '?').split(' ')[0]}, "
                   f"fsync {pgs.get('fsync')}, synchronous_commit {pgs.get('synchronous_commit')}, "
                   f"wal_sync_method {pgs.get('wal_sync_method')}, "
                   f"commit_delay {pgs.get('commit_delay')}, shared_buffers "
                   f"{pgs.get('shared_buffers')}.\n")
    rows = []
    for k, label in (("pgbench_insert", "pgbench, one INSERT per transaction"),
                     ("pgbench_simple_update", "pgbench -N (simple update, scale 1)")):
        x = so.get(k) or {}
        if "tps" in x:
            rows.append([label, fmt(x["clients"]), fmt(x["seconds"], "s"), fmt(x["tps"], "/s"),
                         fmt(x.get("latency_avg_ms"), "ms"), fmt(x.get("failed"))])
        elif x.get("error"):
            rows.append([label, "—", "—", f"— ({x['error'][:80]})", "—", "—"])
    if rows:
        out.append(table(["PostgreSQL alone", "clients", "run", "commits/s", "mean latency",
                          "failed"], rows))
        out.append("")
    rows = []
    for k, label in (("checkin_64KiB_1node", "1 node, 16 clients"),
                     ("checkin_64KiB_2nodes", "2 nodes, 8 + 8 clients")):
        x = so.get(k) or {}
        if "count" in x:
            rows.append([label, f"{x['count']:,}", fmt(x["seconds"], "s"), fmt(x["per_s"], "/s"),
                         fmt(x["MBps"], "MB/s"), fmt(x.get("p50_ms"), "ms"),
                         fmt(x.get("p99_ms"), "ms")])
            for i, n in enumerate(x.get("per_node") or []):
                rows.append([f"… node {i + 1} of 2, 8 clients", f"{n['count']:,}",
                             fmt(n["seconds"], "s"), fmt(n["per_s"], "/s"), fmt(n["MBps"], "MB/s"),
                             fmt(n.get("p50_ms"), "ms"), fmt(n.get("p99_ms"), "ms")])
        elif x.get("error"):
            rows.append([label, "—", "—", f"— ({x['error'][:80]})", "—", "—", "—"])
    if rows:
        out.append(table(["64 KiB durable check-ins on PostgreSQL", "records", "wall",
                          "check-ins/s", "MB/s", "p50", "p99"], rows))
        out.append("")
    rows = []
    for k, label in (("pgbench_insert", "pgbench, one INSERT per transaction"),
                     ("pgbench_simple_update", "pgbench -N"),
                     ("checkin_64KiB_1node", "check-ins, 1 node"),
                     ("checkin_64KiB_2nodes", "check-ins, 2 nodes")):
        u = get(so, k, "cpu")
        if u:
            pct = lambda v: f"{v * 100:.0f}%" if v is not None else "—"  # noqa: E731
            rows.append([label, pct(u.get("machine_busy")), pct(u.get("machine_iowait")),
                         fmt(u.get("custosd_cpu_ms_per_op"), "ms"),
                         fmt(u.get("postgres_cpu_ms_per_op"), "ms")])
    if rows:
        out.append(f"Where the CPU went ({fmt(get(so, 'pgbench_insert', 'cpu', 'cores'))} cores; "
                   "per commit or check-in; the clients' own CPU is in the results file):\n")
        out.append(table(["measurement", "machine busy", "iowait", "custosd CPU",
                          "PostgreSQL CPU"], rows))
        out.append("")
    rows = []
    for k, label in (("checkin_64KiB_1node", "1 node"), ("checkin_64KiB_2nodes", "2 nodes")):
        d = get(so, k, "postgres_per_checkin")
        if d:
            rows.append([label] + [fmt(d.get(c)) for c in (
                "xact_commit", "xact_rollback", "tup_inserted", "tup_updated", "tup_deleted",
                "tup_fetched", "blks_hit", "blks_read")])
    if rows:
        out.append("PostgreSQL's work per check-in (`pg_stat_database` of the archive's database; "
                   "custosd ends its read-only transactions with ROLLBACK):\n")
        out.append(table(["check-ins", "commits (writes)", "read transactions", "rows inserted",
                          "updated",
                          "deleted", "fetched", "buffer hits", "blocks read"], rows))
        out.append("")
    ratios = [["check-ins/s ÷ pgbench commits/s, 1 node", fmt(so.get("checkins_per_commit_1node"))],
              ["check-ins/s ÷ pgbench commits/s, 2 nodes", fmt(so.get("checkins_per_commit_2nodes"))],
              ["2 nodes ÷ 1 node", fmt(so.get("two_nodes_vs_one"))]]
    one, sqlite = get(so, "checkin_64KiB_1node", "per_s"), get(s, "custos", "checkin_64KiB_16clients", "per_s")
    # Only figures of one run compare (a merged page may hold two).
    same_run = not any("scaleout" in m["sections"] and "custos" not in m["sections"]
                       for m in results.get("merged", []))
    if one and sqlite and same_run:
        ratios.append(["1 node on PostgreSQL ÷ SQLite (the custos section's 16 clients)",
                       fmt(one / sqlite)])
    out.append(table(["ratio", "value"], ratios))
    out.append("")
    v = so.get("verify") or {}
    if v.get("counts"):
        out.append(f"`custosctl verify` after both runs: clean, {v['counts'].get('records', 0):,} "
                   f"records, {v['counts'].get('logEntries', 0):,} log entries, "
                   f"{v['counts'].get('checkpoints', 0):,} checkpoints, in "
                   f"{fmt(v.get('seconds'), 's')}.\n")
    elif v.get("error"):
        out.append(f"`custosctl verify` after both runs: {v['error']}\n")


def page(results, source, notes, drawn):
    s = results["sections"]
    m = results.get("machine", {})
    out = [INTRO.format(source=source)]

    out.append("## This run\n")
    la0, la1 = results.get("loadavg_start"), results.get("loadavg_end")
    out.append(table(["", ""], [
        ["results", "`" + source.replace(" + ", "` + `") + "`"],
        ["started (UTC)", results.get("started_utc")],
        ["mode", "quick (`--quick`)" if results.get("quick") else "full"],
        ["sections", ", ".join(results.get("sections_run", []))],
        ["elapsed", fmt(results.get("elapsed_s"), "s")],
        ["load average (1 min) at start / end",
         f"{fmt(la0[0] if la0 else None)} / {fmt(la1[0] if la1 else None)}"],
    ]))
    out.append("")
    for later in results.get("merged", []):
        names = ", ".join(f"`{n}`" for n in later["sections"])
        out.append(f"The {names} section{'s' if len(later['sections']) > 1 else ''} "
                   f"{'are' if len(later['sections']) > 1 else 'is'} from `{later['source']}`, "
                   f"started {later.get('started_utc')} "
                   f"({'quick' if later.get('quick') else 'full'}, "
                   f"{fmt(later.get('elapsed_s'), 's')}, load average "
                   f"{fmt((later.get('loadavg_start') or [None])[0])} / "
                   f"{fmt((later.get('loadavg_end') or [None])[0])} at start / end), "
                   "on this machine.\n")
    out.append("## Machine\n")
    tools = results.get("tools", {})
    out.append(table(["", ""], [
        ["CPU", f"{m.get('cpu')} ({m.get('nproc')} cores usable)"],
        ["RAM", fmt(m.get("ram_GiB"), "GiB")],
        ["kernel", m.get("kernel")],
        ["work directory filesystem", m.get("work_filesystem")],
        ["OpenSSL", (get(s, "bounds", "openssl_version") or "—").split(" (")[0]],
        ["restic / borg / nginx",
         " / ".join(str(x) for x in (get(s, "peers", "restic", "version"),
                                     get(s, "peers", "borg", "version"),
                                     get(s, "peers", "nginx", "version")))],
        ["wrk", (tools.get("wrk") or "—").split(" Copyright")[0]],
    ]))
    out.append("")

    out.append("## Targets\n")
    out.append("Ratio = Custos / bound or peer. Rows without a target are for information.\n")
    rows = []
    for r in results.get("ratios", []):
        ref = fmt(r["reference"], r["unit"])
        if r["reference_is_target"]:
            ref = f"target {r['reference_label']}"
        else:
            ref = f"{r['reference_label']}: {ref}"
        custos = fmt(r["custos"], r["unit"]) if r["custos"] is not None else f"— ({why_missing(r, s)})"
        target = f"{'≥' if r['op'] == '>=' else '<'} {fmt(r['target'])}" if r["op"] else "—"
        met = {True: "yes", False: "**no**", None: "—"}[r["met"]]
        rows.append([figure_label(r, s), custos, ref, fmt(r["ratio"]), target, met])
    out.append(table(["figure", "Custos", "bound or peer", "ratio", "target", "met"], rows))
    out.append("")
    for name, alt in drawn:
        out.append(f"![{alt}](benchmarks/{name})\n")

    out.append("## Bounds\n")
    b = s.get("bounds", {})
    speed = b.get("openssl_MBps", {})
    rows = [
        ["AES-256-GCM, 16 KiB blocks, 1 core", fmt(speed.get("aes_256_gcm_16k"), "MB/s")],
        ["SHA-256, 16 KiB blocks", fmt(speed.get("sha256_16k"), "MB/s")],
        ["SHA-256, 64-byte blocks", f"{fmt(speed.get('sha256_64'), 'MB/s')} "
                                    f"({fmt(b.get('sha256_64B_hashes_per_s'))} hashes/s)"],
        ["SM4-CTR, 16 KiB blocks", fmt(speed.get("sm4_ctr_16k"), "MB/s")],
        ["SM3, 16 KiB blocks", fmt(speed.get("sm3_16k"), "MB/s")],
        ["crypto pipeline bound, AES-256-GCM + SHA-256", fmt(b.get("pipeline_bound_MBps"), "MB/s")],
        ["crypto pipeline bound, SM4-CTR + SM3 (gm suite)", fmt(b.get("gm_pipeline_bound_MBps"), "MB/s")],
        ["fsync/s (4 KiB write + fsync)", fmt(get(b, "fsync", "fsyncs_per_s"), "/s")],
    ]
    out.append(table(["bound", "value"], rows))
    for k, e in (b.get("openssl_unavailable") or {}).items():
        out.append(f"\n`{k}` unavailable: {e}")
    out.append("")

    out.append("## Peers\n")
    rows = []
    for tool in ("restic", "borg"):
        for set_name, label in (("large", "16 MiB"), ("small", "64 KiB")):
            t = get(s, "peers", tool, set_name)
            if not t:
                continue
            rows.append([f"{tool}, {t['files']:,} × {label}", fmt(t.get("backup_seconds"), "s"),
                         fmt(t.get("backup_MBps"), "MB/s"), fmt(t.get("backup_files_per_s"), "/s"),
                         fmt(t.get("check_seconds"), "s"), fmt(t.get("check_MBps"), "MB/s")])
    if rows:
        out.append(table(["backup", "wall", "MB/s", "files/s", "check wall", "check MB/s"], rows))
        out.append("")
    rows = []
    for k, label in (("files", "64 KiB files"), ("json", "static JSON")):
        w = get(s, "peers", "nginx", k)
        if w:
            rows.append([f"nginx, {label}", fmt(w.get("req_per_s"), "/s"), fmt(w.get("MBps"), "MB/s"),
                         fmt(w.get("p50_ms"), "ms"), fmt(w.get("p99_ms"), "ms"), wrk_errors(w)])
    if rows:
        out.append(table(["served over TLS, wrk -c64", "requests/s", "MB/s", "p50", "p99",
                          "errors"], rows))
        out.append("")

    out.append("## Custos\n")
    c = s.get("custos", {})
    rows = []
    for k, label in (("checkin_16MiB_1client", "check-in, 16 MiB files, 1 client"),
                     ("checkin_16MiB_2clients", "check-in, 16 MiB files, 2 clients"),
                     ("checkin_64KiB_16clients", "check-in, 64 KiB files, 16 clients")):
        x = c.get(k)
        if x and "count" in x:
            rows.append([label, f"{x['count']:,}", fmt(x["seconds"], "s"), fmt(x["per_s"], "/s"),
                         fmt(x["MBps"], "MB/s")])
    if rows:
        out.append(table(["check-in", "records", "wall", "check-ins/s", "MB/s"], rows))
        out.append("")
    rows = []
    for k, label in (("content_reads", "content reads, 64 KiB"), ("catalogue_gets", "record GETs")):
        w = c.get(k)
        if w and "req_per_s" in w:
            rows.append([label, fmt(w["req_per_s"], "/s"), fmt(w["MBps"], "MB/s"),
                         fmt(w["p50_ms"], "ms"), fmt(w["p99_ms"], "ms"), fmt(w["max_ms"], "ms"),
                         wrk_errors(w)])
    if rows:
        out.append(table(["HTTPS, wrk -c64", "requests/s", "MB/s", "p50", "p99", "max",
                          "errors"], rows))
        out.append("")
    rss = c.get("rss", {})
    rows = []
    for k in ("upload", "download"):
        x = rss.get(k)
        if x:
            rows.append([f"{k} of {fmt(rss['file_bytes'] / 2**20)} MiB", fmt(x["rss_before_MiB"], "MiB"),
                         fmt(x["peak_MiB"], "MiB"), fmt(x["sampled_peak_MiB"], "MiB"),
                         fmt(x["MBps"], "MB/s"), fmt(x.get("client_sampled_peak_MiB"), "MiB")])
    if rows:
        out.append(table(["custosd memory", "RSS before", "peak (VmHWM)", "peak sampled",
                          "curl MB/s", "curl's own RSS"], rows))
        out.append("")
    v = c.get("verify")
    if v and "MBps" in v:
        out.append(f"`custosctl verify`: {fmt(v['content_bytes'] / 1e6)} MB of content, "
                   f"{v['counts'].get('records', 0):,} records, "
                   f"{v['counts'].get('logEntries', 0):,} log entries in {fmt(v['seconds'], 's')} "
                   f"({fmt(v['MBps'], 'MB/s')}).\n")

    out.append("## Catalogue search\n")
    se = s.get("search")
    if se is None:
        out.append("Not run.\n")
    elif se.get("skipped"):
        out.append(f"Skipped: {se['skipped']}.\n")
    else:
        requests = fmt(se.get("requests"))
        if se.get("complete") is False:
            requests += (f" of {fmt(se.get('requests_wanted'))} (stopped at the "
                         f"{fmt(se.get('time_cap_s'))} s time limit)")
        out.append(table(["records", "seeded in", "distinct queries", "requests over 4 connections",
                          "p50", "p99", "max"], [[
            fmt(se.get("records")), fmt(se.get("seed_seconds"), "s"), fmt(se.get("queries")),
            requests, fmt(se.get("p50_ms"), "ms"), fmt(se.get("p99_ms"), "ms"),
            fmt(se.get("max_ms"), "ms")]]))
        out.append("")

    content_search_section(results, out)
    pipeline_section(results, out)
    scaleout_section(results, out)

    out.append("## Audit log\n")
    lg = s.get("log")
    if lg is None:
        out.append("Not run.\n")
    elif lg.get("skipped"):
        out.append(f"Skipped: {lg['skipped']}.\n")
    else:
        skip = {"entries_wanted", "section_seconds", "seconds", "error"}
        rows = [[f"`{k}`", fmt(v)] for k, v in lg.items() if k not in skip and not isinstance(v, dict)]
        out.append(table(["log_bench figure", "value"], rows))
        out.append("")

    out.append("## Extraction\n")
    ex = s.get("extraction")
    if ex is None:
        out.append("Not run.\n")
    elif ex.get("error"):
        out.append(f"Error: {ex['error']}.\n")
    else:
        out.append("The worker `custos-extract` (docs/formats/extraction.md) on documents "
                   "made in the run (bench/extraction_bench.py); whole worker runs, median "
                   f"of {ex.get('runs_per_figure')}.\n")
        out.append(table(["figure", "value"], [
            [f"PDF text layer ({ex.get('text_layer_pages')} generated pages)",
             fmt(ex.get("text_layer_pages_per_s")) + " pages/s"],
            ["OCR (chi_sim+eng) of an A4 page at 300 dpi, PNG",
             fmt(ex.get("ocr_seconds_per_page")) + " s/page"],
            ["the same page as a scanned PDF (render + OCR)",
             fmt(ex.get("scanned_pdf_seconds_per_page")) + " s/page"],
            ["OCR lines found", f"{ex.get('ocr_found_lines')} of {ex.get('ocr_lines')}"],
        ]))
        out.append("")

    out.append("## Loan copies\n")
    lc = s.get("loan_copy")
    if lc is None:
        out.append("Not run.\n")
    elif lc.get("error"):
        out.append(f"Error: {lc['error']}.\n")
    else:
        out.append("The worker `custos-stamp` (docs/formats/stamp.md) stamping five lines on every page "
                   "of PDFs made in the run (bench/stamp_bench.py); whole worker runs, median "
                   f"of {lc.get('runs_per_figure')}. In custosd a copy also costs decrypting the "
                   "original into memory and one log write.\n")
        out.append(table(["figure", "value"], [
            ["stamped copy of a 20-page PDF", fmt(lc.get("pdf20_copy_seconds")) + " s"],
            ["the same in pages/s", fmt(lc.get("pdf20_copy_pages_per_s")) + " pages/s"],
            ["stamped copy of a 200-page PDF", fmt(lc.get("pdf200_copy_seconds")) + " s"],
            ["bytes the stamp adds to the 20-page copy", fmt(lc.get("copy_bytes_overhead"))],
        ]))
        out.append("")

    out.append("## Previews\n")
    pv = s.get("preview")
    if pv is None:
        out.append("Not run.\n")
    elif pv.get("error"):
        out.append(f"Error: {pv['error']}.\n")
    else:
        out.append("The first page of a 20-page PDF through custosd (bench/preview_bench.py): `GET "
                   ".../preview` over one kept-alive HTTPS connection. Cold: a file never previewed "
                   "(decryption, the worker `custos-render`, sealing, the cache row and the log "
                   f"event), over {pv.get('records')} files. Cached: the sealed image from the "
                   "cache and the log event.\n")
        rows = []
        for key, label in (("cold_page_ms", "cold, 1200 px"), ("cold_thumb_ms", "cold, 240 px"),
                           ("cached_page_ms", "cached, 1200 px")):
            v = pv.get(key) or {}
            rows.append([label, fmt(v.get("median")) + " ms", fmt(v.get("p95")) + " ms", str(v.get("n"))])
        out.append(table(["preview", "median", "p95", "requests"], rows))
        out.append("")

    out.append("## Version comparison\n")
    cp = s.get("compare")
    if cp is None:
        out.append("Not run.\n")
    elif cp.get("error"):
        out.append(f"Error: {cp['error']}.\n")
    else:
        out.append("`GET /v1/records/{id}/compare?from=1&to=2` through custosd as legal "
                   "(bench/compare_bench.py), over one kept-alive HTTPS connection: "
                   f"{cp.get('document')}, over {cp.get('records')} records. Each request is the "
                   "whole work (the transaction logging two `content.read` events, opening both "
                   "sealed texts, the difference, the JSON); nothing is cached. Texts of "
                   f"{fmt(cp.get('from_chars'))} and {fmt(cp.get('to_chars'))} characters, "
                   f"{fmt(cp.get('changed_segments'))} changed segments at level `{cp.get('level')}`, "
                   f"an answer of {fmt(cp.get('answer_bytes'))} bytes.\n")
        rows = []
        for key, label in (("first_ms", "first request per record"), ("repeat_ms", "repeated")):
            v = cp.get(key) or {}
            rows.append([label, fmt(v.get("median")) + " ms", fmt(v.get("p95")) + " ms", str(v.get("n"))])
        out.append(table(["compare", "median", "p95", "requests"], rows))
        out.append("")
        per = cp.get("first_ms_per_record") or []
        if len(per) > 1:
            out.append(table(["record", "first request", "characters (from / to)", "changed segments"],
                             [[f"`{r.get('record')}`", fmt(r.get("ms")) + " ms",
                               f"{fmt(r.get('from_chars'))} / {fmt(r.get('to_chars'))}",
                               fmt(r.get("changed_segments"))] for r in per]))
            out.append("")

    out.append("## Tiles\n")
    tl = s.get("tiles")
    if tl is None:
        out.append("Not run.\n")
    elif tl.get("error"):
        out.append(f"Error: {tl['error']}.\n")
    else:
        out.append("The tlog-tiles read API (docs/formats/tiles.md, bench/tiles_bench.py): a log of "
                   f"{fmt(tl.get('log_size'))} entries (content reads of one file), every tile of its "
                   "checkpoint copied to disk and checked to rebuild the signed root; then `wrk -t2 -c64` "
                   "cycling over the full tiles, from custosd (each request reads the served checkpoint "
                   "and the tile from the store) and from nginx serving the copied files with the same "
                   "TLS settings.\n")
        rows = []
        for key, label in (("hash", "full hash tiles (8,192 bytes)"), ("entries", "full entry bundles")):
            cu, ng = tl.get(f"custos_{key}") or {}, tl.get(f"nginx_{key}") or {}
            rows.append([label, fmt(cu.get("req_per_s")) + "/s", fmt(cu.get("p99_ms")) + " ms",
                         fmt(ng.get("req_per_s")) + "/s", fmt(ng.get("p99_ms")) + " ms"])
        out.append(table(["tiles", "custosd", "p99", "nginx", "p99"], rows))
        out.append("")

    out.append("## Witnesses and timestamps\n")
    at = s.get("attest")
    if at is None:
        out.append("Not run.\n")
    elif at.get("error") or at.get("skipped"):
        out.append(f"{'Error: ' + at['error'] if at.get('error') else 'Skipped: ' + at['skipped']}.\n")
    else:
        out.append("What attesting a checkpoint adds (docs/operations.md \"Witnesses and timestamps\", "
                   f"bench/attest_bench.cc), over {fmt(at.get('rounds'))} checkpoints. custosd does this on a "
                   "thread of its own, after the checkpoint is committed: no write waits for it. The "
                   "timestamp's wall time is mostly the local authority starting `openssl`.\n")
        rows = []
        for key, label in (("checkpoint", "the checkpoint itself: one durable write, signed"),
                           ("cosign", "cosignature: submit with proof, verify, store"),
                           ("timestamp", "timestamp: request, verify token, store")):
            v = at.get(key) or {}
            ratio = at.get(f"{key}_vs_checkpoint")
            rows.append([label, fmt(v.get("wall_ms_p50")) + " ms", fmt(v.get("wall_ms_p90")) + " ms",
                         fmt(v.get("cpu_ms_p50")) + " ms", (fmt(ratio) + "×") if ratio else "—"])
        out.append(table(["per checkpoint", "wall p50", "wall p90", "attester CPU p50", "÷ checkpoint"], rows))
        out.append("")

    errors = results.get("errors") or []
    if errors:
        out.append("## Errors in this run\n")
        out += [f"- {e}" for e in errors]
        out.append("")

    out.append(METHOD)
    out.append("## Notes\n")
    out.append("<!-- notes -->\n" + notes + "<!-- /notes -->\n")
    return "\n".join(out)


def source_name(path):
    source = os.path.relpath(os.path.abspath(path), REPO)
    return os.path.basename(path) if source.startswith("..") else source


def merge(results, later, source):
    """Puts the sections of a later results file over those of results: its
    sections, its ratio rows that have a figure, its errors."""
    taken = [n for n in later.get("sections_run", later["sections"]) if n in later["sections"]]
    for name in taken:
        results["sections"][name] = later["sections"][name]
    rows = {r["id"]: r for r in results.get("ratios", [])}
    for r in later.get("ratios", []):
        if r["custos"] is not None or r["id"] not in rows:
            rows[r["id"]] = r
    results["ratios"] = list(rows.values())
    results["errors"] = [e for e in results.get("errors") or []
                         if e.split(".")[0].split(":")[0] not in taken] + (later.get("errors") or [])
    results["sections_run"] = [n for n in results.get("sections_run", [])] + \
        [n for n in taken if n not in results.get("sections_run", [])]
    results.setdefault("merged", []).append({
        "source": source, "sections": taken, "started_utc": later.get("started_utc"),
        "quick": later.get("quick"), "elapsed_s": later.get("elapsed_s"),
        "loadavg_start": later.get("loadavg_start"), "loadavg_end": later.get("loadavg_end")})


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: report.py RESULTS.json [LATER.json ...]")
    path = sys.argv[1]
    with open(path) as f:
        results = json.load(f)
    source = source_name(path)
    for later_path in sys.argv[2:]:
        with open(later_path) as f:
            merge(results, json.load(f), source_name(later_path))
    if len(sys.argv) > 2:
        source += " + " + " + ".join(source_name(p) for p in sys.argv[2:])
    notes = DEFAULT_NOTES
    if os.path.exists(DOC):
        with open(DOC) as f:
            m = NOTES_RE.search(f.read())
        if m:
            notes = m.group(1)
    failed = None
    try:
        drawn = charts(results)
    except (OSError, RuntimeError) as e:
        failed, drawn = str(e), []
    with open(DOC, "w") as f:
        f.write(page(results, source, notes, drawn))
    print(f"wrote {os.path.relpath(DOC, REPO)} and {len(drawn)} charts", file=sys.stderr)
    if failed:
        print(f"charts: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
