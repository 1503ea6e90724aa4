#!/usr/bin/env python3
"""`make bench`: Custos's performance figures as ratios against bounds and peers
measured in the same run on the same machine (DESIGN §8).

  bench/run.py --bin BINDIR [--quick] [--work DIR] [--only SECTION,...]
               [--keep-work] [--no-report]

Sections, run in this order (corpus is made whenever a later section needs it):
  corpus  random files from a fixed seed: 64 KiB, 16 MiB and one 1 GiB file
  bounds  openssl speed (AES-256-GCM, SHA-256, SM4-CTR, SM3) and the disk's fsync/s
  custos  custosd over HTTPS: check-in MB/s and check-ins/s, content reads/s,
          catalogue GETs/s, peak RSS of a 1 GiB upload and download, custosctl verify
  peers   restic and borg backup/check of the same files; nginx serving them over TLS
  search  catalogue search latency at 1 million records (BINDIR/catalogue_seed)
  content_search  content search p50/p99 and index bytes per byte of text,
          in-process on a sealed SQLite store: 100,000 records, 10,000 of
          them with two pages of Chinese and Latin text (quick: 20,000 and
          2,000; --content-scale N:M, e.g. the issue's 1000000:100000, hours) (BINDIR/search_bench); with
          --content-postgresql the same again on a throwaway PostgreSQL
  pipeline  check-ins/s of two-page Chinese text files through custosd with
          extraction.enabled = true against the same with false
          (bench/text_corpus.py, bench/checkin.lua)
  log     the audit log in-process (BINDIR/log_bench)
  extraction  the worker custos-extract: PDF text-layer pages/s, OCR seconds
          per page of a 300 dpi scan, as PNG and as a scanned PDF
          (bench/extraction_bench.py)
  tiles   the tlog-tiles read API (/log/tile/...): full hash tiles and entry
          bundles served per second by custosd, and by nginx serving the
          same tiles as files from disk over the same TLS (bench/tiles_bench.py)
  attest  what cosigning and timestamping add per checkpoint: a durable
          checkpoint write, an attester round with a local witness and one
          with a local RFC 3161 authority, in-process (BINDIR/attest_bench)
  loan_copy  the worker custos-stamp: a stamped loan copy of a 20-page (and a
          200-page) PDF, seconds per copy (bench/stamp_bench.py)
  scaleout  a throwaway PostgreSQL (scripts/test-postgres.sh): pgbench's
          commits/s, then durable 64 KiB check-ins/s of one and of two
          custosd nodes serving one archive whose metadata lives there
then the ratios against their targets. Everything goes to
bench/results/<UTC time>.json, and bench/report.py turns that into
docs/benchmarks.md. A section that fails records {"error": ...}; the others
still run, and the run exits 1 at the end.

The work directory is a fresh directory under /var/tmp (a real disk: fsync
must reach it), removed at the end, also on failure or Ctrl-C. Servers listen
on 127.0.0.1 only and are stopped by their own PIDs.
"""
import argparse
import datetime
import http.client
import json
import math
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import ssl
import string
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree

import corpus as corpus_mod  # noqa: E402
import fsync_rate  # noqa: E402
import extraction_bench  # noqa: E402
import stamp_bench  # noqa: E402
import preview_bench  # noqa: E402
import compare_bench  # noqa: E402
import tiles_bench  # noqa: E402
import text_corpus  # noqa: E402

SECTIONS = ["corpus", "bounds", "custos", "peers", "search", "content_search", "pipeline", "log",
            "extraction", "loan_copy", "preview", "compare", "tiles", "attest", "scaleout"]
MiB = 1 << 20

# The TLS settings of server/http/server.cc, so that nginx pays for the same
# handshakes and ciphers as custosd.
CUSTOS_CIPHERS = ("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                  "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256")
CUSTOS_GROUPS = "X25519:prime256v1:secp384r1"


class BenchError(Exception):
    """A figure could not be measured; the message says why."""


def log(msg):
    print(f"[{time.monotonic() - START:7.1f}s] {msg}", file=sys.stderr, flush=True)


START = time.monotonic()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(text, n=800):
    text = text.decode(errors="replace") if isinstance(text, bytes) else (text or "")
    return text[-n:].strip()


def run(cmd, timeout=1800, env=None, cwd=None, check=True):
    """Runs cmd; returns (CompletedProcess, wall seconds). Raises BenchError."""
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, cwd=cwd)
    except FileNotFoundError as e:
        raise BenchError(f"{cmd[0]}: not found ({e})")
    except subprocess.TimeoutExpired:
        raise BenchError(f"{os.path.basename(cmd[0])} timed out after {timeout}s")
    wall = time.monotonic() - start
    if check and p.returncode != 0:
        raise BenchError(f"{os.path.basename(cmd[0])} {' '.join(cmd[1:3])} exited "
                         f"{p.returncode}: {tail(p.stderr) or tail(p.stdout)}")
    return p, wall


def write_secret(path, value):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")


def connect(url, cafile, timeout=600):
    """An HTTPS connection for the few requests made from Python: sign-in,
    finding the checked-in records, and the search figure's GETs."""
    u = urllib.parse.urlparse(url)
    ctx = ssl.create_default_context(cafile=cafile)
    return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=timeout)


def sign_in(url, cafile, user, password):
    """Returns a session token; raises BenchError if the server refuses."""
    c = connect(url, cafile)
    try:
        c.request("POST", "/v1/session", json.dumps({"username": user, "password": password}),
                  {"Content-Type": "application/json"})
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise BenchError(f"sign-in failed: HTTP {r.status} {body[:200]!r}")
        return json.loads(body)["token"]
    finally:
        c.close()


def children_cpu_s():
    """CPU seconds (user + system) of the child processes reaped so far: the
    difference over a step is what its load generator cost."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_marker():
    """Letters only, so that a catalogue search for it uses the trigram index
    alone (text that could be part of an archive number also reads through
    the archive numbers), and unique to the run."""
    return "bench" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(12))


def read_proc_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out


class Bench:
    def __init__(self, args):
        self.bin = os.path.abspath(args.bin)
        self.quick = args.quick
        self.content_scale = args.content_scale  # (records, texts) or None
        self.content_postgresql = args.content_postgresql
        self.work_parent = args.work
        self.work = None
        self.procs = []  # every server we started, stopped in finally
        self.corpus = None
        self.record_sample = None  # a catalogue record response, sizes nginx's JSON
        self.results = {}

    # --- processes ---------------------------------------------------------

    def start_server(self, name, cmd, log_path, env=None):
        logf = open(log_path, "wb")
        # Own session: a Ctrl-C in the terminal reaches us, and we stop the
        # server ourselves, in order, by its PID.
        p = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, env=env,
                             start_new_session=True)
        logf.close()
        self.procs.append((name, p))
        return p

    def stop_server(self, p, grace=30):
        if p.poll() is None:
            try:
                p.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        # Whatever the server forked (nginx workers) is in its process group,
        # which is the server's own PID; it goes with it.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.procs = [(n, q) for n, q in self.procs if q is not p]

    def stop_all(self):
        for name, p in list(self.procs):
            try:
                self.stop_server(p, grace=30)
            except Exception as e:  # keep stopping the others
                print(f"could not stop {name} (pid {p.pid}): {e}", file=sys.stderr)

    # --- helpers -------------------------------------------------------------

    def path(self, *parts):
        return os.path.join(self.work, *parts)

    def ensure_corpus(self):
        if self.corpus is None:
            log("corpus: generating")
            start = time.monotonic()
            self.corpus = corpus_mod.generate(self.path("corpus"), self.quick)
            out = self.results.setdefault("corpus", {})
            out.update(corpus_mod.summary(self.corpus))
            out["seconds"] = time.monotonic() - start
        return self.corpus

    def wrk(self, base_url, paths, conns, seconds, token=None, threads=2, name="wrk"):
        """wrk with bench/cycle.lua over paths; returns its figures."""
        list_path = self.path(f"{name}-paths.txt")
        with open(list_path, "w") as f:
            f.write("\n".join(paths) + "\n")
        env = dict(os.environ)
        env.pop("BENCH_TOKEN", None)
        if token:
            env["BENCH_TOKEN"] = token
        cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s", "--latency",
               "-s", os.path.join(HERE, "cycle.lua"), base_url, "--", list_path]
        p, _ = run(cmd, timeout=seconds + 120, env=env)
        out = p.stdout.decode(errors="replace")
        m = re.search(r"^BENCH_JSON (\{.*\})$", out, re.M)
        if not m:
            raise BenchError(f"wrk printed no figures: {tail(out)} {tail(p.stderr)}")
        w = json.loads(m.group(1))
        secs = w["duration_us"] / 1e6
        res = {
            "connections": conns, "threads": threads, "seconds": secs,
            "requests": w["requests"],
            "req_per_s": w["requests"] / secs,
            "MBps": w["bytes"] / secs / 1e6,
            "p50_ms": w["latency_p50_us"] / 1000, "p90_ms": w["latency_p90_us"] / 1000,
            "p99_ms": w["latency_p99_us"] / 1000, "max_ms": w["latency_max_us"] / 1000,
            "non_2xx": w["errors_status"],
            "socket_errors": {k[7:]: w[k] for k in ("errors_connect", "errors_read",
                                                     "errors_write", "errors_timeout")},
        }
        # Cross-check against wrk's own report.
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if m:
            res["wrk_reported_req_per_s"] = float(m.group(1))
        return res


# --- custosd ---------------------------------------------------------------


class Custos:
    """One data directory and, while started, one custosd serving it."""

    USER = "bench"

    def __init__(self, bench, name, shared=None):
        self.b = bench
        self.dir = bench.path(name)
        os.makedirs(self.dir)
        # Another node of a PostgreSQL archive (shared: its first node): its
        # own log and work files, the first node's data directory and user.
        self.data = shared.data if shared else os.path.join(self.dir, "data")
        self.pw_file = shared.pw_file if shared else os.path.join(self.dir, "password")
        self.proc = None
        self.url = None
        self._token = None

    @property
    def cafile(self):
        return os.path.join(self.data, "tls", "cert.pem")

    def ctl(self, *args, timeout=1800):
        return run([os.path.join(self.b.bin, "custosctl"), *args], timeout=timeout)

    def init(self, *backend):
        """backend: extra `custosctl init` flags, e.g. --backend postgresql --dsn DSN."""
        admin_pw = os.path.join(self.dir, "admin-password")
        write_secret(admin_pw, secrets.token_urlsafe(18))
        write_secret(self.pw_file, secrets.token_urlsafe(18))
        self.ctl("init", "--data", self.data, "--admin-password-file", admin_pw, *backend)
        # No scheduled verification competing with what is measured, and no
        # second factor for the bench's archivist (sign-in is not measured;
        # docs/security.md "Second factors").
        conf = os.path.join(self.data, "custos.conf")
        with open(conf) as f:
            text = f.read()
        text = re.sub(r"(?m)^audit\.verify_interval = .*$", "audit.verify_interval = 0", text)
        text, n = re.subn(r"(?m)^auth\.second_factor_roles = .*$", "auth.second_factor_roles =", text)
        if n != 1:
            raise RuntimeError(f"{conf}: no auth.second_factor_roles line to empty")
        with open(conf, "w") as f:
            f.write(text)
        # custosd must not run while users are added.
        self.ctl("user", "add", self.USER, "--role", "archivist", "--department", "sales",
                 "--password-file", self.pw_file, "--no-force-change", "--data", self.data)

    def start(self):
        log_path = os.path.join(self.dir, "custosd.log")
        self.proc = self.b.start_server(
            "custosd", [os.path.join(self.b.bin, "custosd"), "--data", self.data,
                        "--listen", "127.0.0.1:0"], log_path)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(log_path, "rb") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(rec, dict) and "port" in rec:
                        self.url = f"https://127.0.0.1:{rec['port']}"
                        self._token = None
                        return
            if self.proc.poll() is not None:
                with open(log_path, "rb") as f:
                    raise BenchError(f"custosd exited {self.proc.returncode}: {tail(f.read())}")
            time.sleep(0.05)
        raise BenchError("custosd did not report its port within 60 s")

    def stop(self):
        if self.proc is not None:
            self.b.stop_server(self.proc)
            if self.proc.returncode not in (0, -signal.SIGTERM):
                raise BenchError(f"custosd stopped with status {self.proc.returncode}")
            self.proc = None

    def token(self):
        if self._token is None:
            with open(self.pw_file) as f:
                self._token = sign_in(self.url, self.cafile, self.USER, f.readline().strip())
        return self._token

    def get(self, path, conn=None):
        c = conn or connect(self.url, self.cafile, timeout=120)
        try:
            c.request("GET", path, headers={"Authorization": f"Bearer {self.token()}"})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            if conn is None:
                c.close()

    def header_file(self):
        """The bearer token as a curl header file (0600): never on a command line."""
        hdr = os.path.join(self.dir, "curl-headers")
        write_secret(hdr, f"Authorization: Bearer {self.token()}")
        return hdr

    def check_in_curl(self, rel_paths, clients, name):
        """Checks in corpus files with one curl process per client, each
        taking its share of the files in turn over one kept-alive TLS
        connection (transfers chained with --next). Returns (summary,
        records); wall time runs from starting the first curl to the exit of
        the last, which is right after its last answer."""
        root = self.b.path("corpus")
        work = os.path.join(self.dir, name)
        os.makedirs(work)
        hdr = self.header_file()
        marker = run_marker()
        paths = [os.path.join(root, p) for p in rel_paths]
        uploads = []  # (client, index, path, response file)
        cmds = []
        for k in range(clients):
            cmd = ["curl"]
            for i in range(k, len(paths), clients):
                meta = os.path.join(work, f"meta{i:05d}.json")
                with open(meta, "w") as f:
                    json.dump({"type": "general", "title": f"bench {marker} {i:05d}",
                               "department": "sales", "classification": "internal"}, f)
                resp = os.path.join(work, f"answer{i:05d}.json")
                if len(cmd) > 1:
                    cmd.append("--next")
                # "Expect:" stops curl from waiting for a 100 Continue
                # before sending a large body.
                cmd += ["-sS", "--max-time", "1800", "--cacert", self.cafile, "-H", f"@{hdr}",
                        "-H", "Expect:", "-F", f"metadata=<{meta};type=application/json",
                        "-F", f"file=@{paths[i]};type=application/octet-stream",
                        "-o", resp, "-w", f"{i} %{{http_code}} %{{num_connects}}\n",
                        f"{self.url}/v1/records"]
                uploads.append((k, i, paths[i], resp))
            if len(cmd) > 1:
                cmds.append(cmd)
        total = sum(os.path.getsize(p) for p in paths)
        cpu0 = children_cpu_s()
        start = time.monotonic()
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for cmd in cmds]
        outs = []
        try:
            for p in procs:
                outs.append(p.communicate(timeout=3600))
        except subprocess.TimeoutExpired:
            raise BenchError("curl check-ins timed out after 3600 s")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        wall = time.monotonic() - start
        client_cpu = children_cpu_s() - cpu0
        status, connects, failures = {}, 0, []
        for p, (out, err) in zip(procs, outs):
            for line in out.decode(errors="replace").splitlines():
                i, code, n = line.split()
                status[int(i)] = code
                connects += int(n)
            if p.returncode != 0:
                failures.append(f"curl exited {p.returncode}: {tail(err, 300)}")
        records = []
        for k, i, path, resp in uploads:
            code = status.get(i)
            body = b""
            if os.path.exists(resp):
                with open(resp, "rb") as f:
                    body = f.read()
            if code != "201":
                failures.append(f"{os.path.basename(path)}: HTTP {code} {tail(body, 200)}")
                continue
            rec = json.loads(body)
            f = rec["versions"][0]["files"][0]
            if f["size"] != os.path.getsize(path):
                failures.append(f"{os.path.basename(path)}: stored {f['size']} bytes "
                                f"of {os.path.getsize(path)}")
                continue
            records.append({"id": rec["id"], "file": f["id"], "size": f["size"]})
        shutil.rmtree(work, ignore_errors=True)
        done = sum(r["size"] for r in records)
        summary = {
            "client": "curl, one process per client, uploads in turn over one connection",
            "clients": clients, "count": len(records), "attempted": len(paths),
            "bytes": done, "seconds": wall, "per_s": len(records) / wall,
            "MBps": done / wall / 1e6, "tls_connections": connects,
            "client_cpu_s": client_cpu,
            "failures": len(failures), "first_failures": failures[:3], "corpus_bytes": total,
        }
        if failures:
            raise BenchError(f"{len(failures)} of {len(paths)} check-ins failed: {failures[:3]}")
        return summary, records

    def check_in_wrk(self, rel_paths, conns, threads, name):
        """Checks in every corpus file once with wrk and bench/checkin.lua
        (see there for how wrk is made to stop when the list is done), then
        finds the records again by the marker in their titles. Returns
        (summary, records in list order); the wall time runs from wrk's first
        request to its last answer."""
        summary, marker, _ = self.wrk_check_ins(rel_paths, conns, threads, name)
        return summary, self.find_check_ins(summary, marker, len(rel_paths))

    def find_check_ins(self, summary, marker, count):
        """Finds the `count` records a wrk run checked in by the marker in
        their titles, records how long that took in the summary, and raises
        unless the catalogue holds exactly the check-ins wrk saw."""
        log(f"custos: finding the {summary['count']} records by their titles")
        t0 = time.monotonic()
        records = self.find_records(marker, count)
        summary["find_records_seconds"] = time.monotonic() - t0
        if len(records) != summary["count"]:
            raise BenchError(f"wrk saw {summary['count']} check-ins, the catalogue "
                             f"finds {len(records)} with their marker")
        return records

    def wrk_check_ins(self, rel_paths, conns, threads, name):
        """The wrk part of check_in_wrk. Returns (summary, the marker in the
        titles, (first request, last answer) on time.monotonic()'s clock) and
        raises unless every file was answered 201."""
        marker = run_marker()
        list_path = os.path.join(self.dir, f"{name}.list")
        with open(list_path, "w") as f:
            f.write("\n".join(self.b.path("corpus", p) for p in rel_paths) + "\n")
        env = dict(os.environ, BENCH_TOKEN=self.token())
        # -d only bounds a run that goes wrong (a request lost to a broken
        # connection is never answered); a good run ends when the list does.
        limit = 60 + len(rel_paths) // 10
        cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{limit}s",
               "-s", os.path.join(HERE, "checkin.lua"), self.url, "--",
               list_path, str(threads), marker]
        cpu0 = children_cpu_s()
        start = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        lines, finished = [], 0
        try:
            # wrk sleeps for -d whatever its threads do; once every thread
            # has said it is done, SIGINT wakes it to print its figures.
            for raw in p.stdout:
                line = raw.decode(errors="replace")
                lines.append(line)
                if line.startswith("BENCH_THREAD_DONE"):
                    finished += 1
                    if finished == threads:
                        break
            if finished == threads:
                deadline = time.monotonic() + 30
                while p.poll() is None and time.monotonic() < deadline:
                    p.send_signal(signal.SIGINT)
                    try:
                        p.wait(2)
                    except subprocess.TimeoutExpired:
                        pass
            rest, err = p.communicate(timeout=limit + 60)
        except subprocess.TimeoutExpired:
            raise BenchError("wrk did not stop")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        process_wall = time.monotonic() - start
        client_cpu = children_cpu_s() - cpu0
        out = "".join(lines) + rest.decode(errors="replace")
        m = re.search(r"^BENCH_JSON (\{.*\})$", out, re.M)
        if not m:
            raise BenchError(f"wrk printed no figures ({p.returncode}): {tail(out)} {tail(err)}")
        w = json.loads(m.group(1))
        size = corpus_bytes = sum(os.path.getsize(self.b.path("corpus", r)) for r in rel_paths)
        secs = w["t_last"] - w["t_first"] if w["t_first"] >= 0 and w["t_last"] >= 0 else None
        missing = len(rel_paths) - w["answered"]
        summary = {
            "client": f"wrk -t{threads} -c{conns}, bench/checkin.lua",
            "clients": conns, "threads": threads, "count": w["created"],
            "attempted": len(rel_paths), "bytes": w["created"] * size // max(1, len(rel_paths)),
            "seconds": secs,
            "per_s": w["created"] / secs if secs else None,
            "MBps": w["created"] * size / len(rel_paths) / secs / 1e6 if secs else None,
            "wrk_process_seconds": process_wall,
            # Includes reading the files and building the requests in init().
            "client_cpu_s": client_cpu,
            "p50_ms": w["latency_p50_us"] / 1000, "p99_ms": w["latency_p99_us"] / 1000,
            "max_ms": w["latency_max_us"] / 1000,
            "failures": w["other"] + missing, "first_failures": w["first_other"][:3],
            "unanswered": missing, "corpus_bytes": corpus_bytes,
            "socket_errors": {k[7:]: w[k] for k in ("errors_connect", "errors_read",
                                                     "errors_write", "errors_timeout")},
        }
        if w["other"] or missing:
            raise BenchError(f"{w['created']} of {len(rel_paths)} check-ins answered 201, "
                             f"{w['other']} something else, {missing} nothing: "
                             f"{w['first_other'][:3]} socket errors {summary['socket_errors']}")
        return summary, marker, (w["t_first"], w["t_last"])

    def find_records(self, marker, count):
        """The records whose titles hold marker (made by check_in_wrk, titled
        "bench MARKER NNNNN"), in list order, as {"id", "file", "size"} of
        version 1's file. Searched page by page until a short page: the total
        in the answer is counted only up to 10,000 matches."""
        conn = connect(self.url, self.cafile, timeout=120)
        try:
            index = {}
            page = 1
            while True:
                q = urllib.parse.quote(marker)
                status, body = self.get(f"/v1/records?q={q}&pageSize=500&page={page}", conn)
                if status != 200:
                    raise BenchError(f"search for the check-ins answered {status}: {tail(body, 200)}")
                recs = json.loads(body)["records"]
                for r in recs:
                    m = re.fullmatch(rf"bench {marker} (\d+)", r["title"])
                    if m:
                        index[int(m.group(1))] = r["id"]
                if len(recs) < 500:
                    break
                page += 1
            if len(index) > count:
                raise BenchError(f"{len(index)} records hold the marker of {count} check-ins")
            records = []
            for i in sorted(index):
                status, body = self.get(f"/v1/records/{index[i]}", conn)
                if status != 200:
                    raise BenchError(f"GET record answered {status}: {tail(body, 200)}")
                rec = json.loads(body)
                v1 = next(v for v in rec["versions"] if v["number"] == 1)
                f = v1["files"][0]
                records.append({"id": rec["id"], "file": f["id"], "size": f["size"]})
            return records
        finally:
            conn.close()


def timed_gets(url, cafile, token, paths, conns, want, max_seconds):
    """GETs paths in turn over `conns` connections until `want` answers or the
    time is up; returns latencies in ms and any non-200 statuses."""
    lock = threading.Lock()
    lat, bad = [], []
    deadline = time.monotonic() + max_seconds
    counter = [0]

    def worker():
        c = connect(url, cafile, timeout=120)
        try:
            while time.monotonic() < deadline:
                with lock:
                    i = counter[0]
                    counter[0] += 1
                if i >= want:
                    return
                t0 = time.perf_counter()
                c.request("GET", paths[i % len(paths)],
                          headers={"Authorization": f"Bearer {token}"})
                r = c.getresponse()
                r.read()
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    lat.append(ms)
                    if r.status != 200:
                        bad.append(r.status)
        finally:
            c.close()

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, bad, time.monotonic() - start


def percentile(values, p):
    s = sorted(values)
    if not s:
        return None
    k = max(0, min(len(s) - 1, math.ceil(p / 100 * len(s)) - 1))  # nearest rank
    return s[k]


# --- sections --------------------------------------------------------------


def section_corpus(b, out):
    b.ensure_corpus()


def openssl_speed(algo, seconds, size):
    """KB/s (thousands of bytes) of `openssl speed -evp algo` at one block size."""
    p, _ = run(["openssl", "speed", "-elapsed", "-seconds", str(seconds), "-bytes", str(size),
                "-evp", algo], timeout=seconds * 10 + 60, check=False)
    text = p.stdout.decode(errors="replace")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("type") and i + 1 < len(lines):
            sizes = [int(x) for x in re.findall(r"(\d+) bytes", line)]
            values = lines[i + 1].split()[-len(sizes):]
            table = dict(zip(sizes, (float(v.rstrip("k")) for v in values)))
            if size in table:
                return table[size] / 1000  # MB/s (10^6 bytes)
    raise BenchError(f"openssl speed -evp {algo}: {tail(p.stderr) or tail(text)}")


def section_bounds(b, out):
    secs = 1 if b.quick else 3
    out["openssl_seconds_per_figure"] = secs
    p, _ = run(["openssl", "version"], check=False)
    out["openssl_version"] = p.stdout.decode().strip()
    speed = out.setdefault("openssl_MBps", {})
    errors = {}
    for key, algo, size in [("aes_256_gcm_16k", "aes-256-gcm", 16384),
                            ("sha256_16k", "sha256", 16384),
                            ("sha256_64", "sha256", 64),
                            ("sm4_ctr_16k", "sm4-ctr", 16384),
                            ("sm3_16k", "sm3", 16384)]:
        log(f"bounds: openssl speed {algo} {size}")
        try:
            speed[key] = openssl_speed(algo, secs, size)
        except BenchError as e:
            speed[key] = None
            errors[key] = str(e)
    if errors:
        out["openssl_unavailable"] = errors
    aes, sha = speed.get("aes_256_gcm_16k"), speed.get("sha256_16k")
    if not (aes and sha):
        raise BenchError("no AES-256-GCM or SHA-256 figure: no pipeline bound")
    # Encrypting and hashing every byte on one core: the times add up.
    out["pipeline_bound_MBps"] = 1 / (1 / aes + 1 / sha)
    sm4, sm3 = speed.get("sm4_ctr_16k"), speed.get("sm3_16k")
    out["gm_pipeline_bound_MBps"] = 1 / (1 / sm4 + 1 / sm3) if sm4 and sm3 else None
    out["sha256_64B_hashes_per_s"] = speed["sha256_64"] * 1e6 / 64 if speed.get("sha256_64") else None
    log("bounds: fsync rate")
    out["fsync"] = fsync_rate.measure(b.work, 2000)


def step(out, name, fn):
    """Runs one figure of a section; a failure is recorded and does not stop the rest."""
    try:
        fn(out.setdefault(name, {}))
    except BenchError as e:
        out[name]["error"] = str(e)
        log(f"  {name}: ERROR {e}")
    except Exception as e:
        out[name]["error"] = f"{type(e).__name__}: {e}"
        log(f"  {name}: ERROR\n{traceback.format_exc()}")


def section_custos(b, out):
    corpus = b.ensure_corpus()
    c = Custos(b, "custos")
    log("custos: init")
    c.init()
    c.start()
    c.token()
    small_records = []
    checked_in = {"bytes": 0}

    def checkin_large(clients):
        def fn(o):
            log(f"custos: check-in of {corpus['large']['count']} × 16 MiB, {clients} client(s)")
            s, recs = c.check_in_curl(corpus["large"]["files"], clients, f"large{clients}")
            o.update(s)
            checked_in["bytes"] += s["bytes"]
        return fn

    step(out, "checkin_16MiB_1client", checkin_large(1))
    step(out, "checkin_16MiB_2clients", checkin_large(2))
    best = [out[k].get("MBps") for k in ("checkin_16MiB_1client", "checkin_16MiB_2clients")]
    best = [x for x in best if x]
    out["checkin_16MiB_best_MBps"] = max(best) if best else None

    def checkin_small(o):
        log(f"custos: check-in of {corpus['small']['count']} × 64 KiB, 16 clients")
        s, recs = c.check_in_wrk(corpus["small"]["files"], 16, 2, "small")
        o.update(s)
        small_records.extend(recs)
        checked_in["bytes"] += s["bytes"]

    step(out, "checkin_64KiB_16clients", checkin_small)
    dur = 4 if b.quick else 10

    def reads(o):
        if not small_records:
            raise BenchError("no checked-in records to read")
        log(f"custos: content reads, wrk -c64 {dur}s")
        paths = [f"/v1/records/{r['id']}/versions/1/files/{r['file']}" for r in small_records]
        o.update(b.wrk(c.url, paths, 64, dur, token=c.token(), name="custos-reads"))
        o["file_bytes"] = corpus["small"]["file_bytes"]
        if o["non_2xx"]:
            raise BenchError(f"{o['non_2xx']} content reads did not answer 2xx")

    step(out, "content_reads", reads)

    def gets(o):
        if not small_records:
            raise BenchError("no checked-in records to fetch")
        status, body = c.get(f"/v1/records/{small_records[0]['id']}")
        if status != 200:
            raise BenchError(f"GET record answered {status}")
        b.record_sample = body
        o["response_bytes"] = len(body)
        log(f"custos: catalogue GETs, wrk -c64 {dur}s")
        paths = [f"/v1/records/{r['id']}" for r in small_records]
        o.update(b.wrk(c.url, paths, 64, dur, token=c.token(), name="custos-gets"))
        if o["non_2xx"]:
            raise BenchError(f"{o['non_2xx']} catalogue GETs did not answer 2xx")

    step(out, "catalogue_gets", gets)

    def rss(o):
        big = b.path("corpus", corpus["big"]["file"])
        size = corpus["big"]["bytes"]
        o["file_bytes"] = size
        hdr = c.header_file()
        meta = os.path.join(c.dir, "big-meta.json")
        with open(meta, "w") as f:
            json.dump({"type": "general", "title": "bench big file", "department": "sales",
                       "classification": "internal"}, f)
        resp = os.path.join(c.dir, "big-record.json")
        base = ["curl", "-sS", "--max-time", "1800", "--cacert", c.cafile, "-H", f"@{hdr}"]
        log(f"custos: peak RSS, upload of {size // MiB} MiB with curl")
        up = measure_rss(c.proc.pid, base + [
            "-H", "Expect:", "-F", f"metadata=<{meta};type=application/json",
            "-F", f"file=@{big};type=application/octet-stream", "-o", resp,
            "-w", "%{http_code} %{speed_upload}", f"{c.url}/v1/records"])
        code, speed = up.pop("curl_out").split()
        if code != "201":
            with open(resp, "rb") as f:
                raise BenchError(f"1 GiB upload answered {code}: {tail(f.read(), 300)}")
        up["MBps"] = float(speed) / 1e6
        o["upload"] = up
        checked_in["bytes"] += size
        with open(resp) as f:
            rec = json.load(f)
        url = f"{c.url}/v1/records/{rec['id']}/versions/1/files/{rec['versions'][0]['files'][0]['id']}"
        log(f"custos: peak RSS, download of {size // MiB} MiB with curl")
        down = measure_rss(c.proc.pid, base + [
            "-o", "/dev/null", "-w", "%{http_code} %{speed_download} %{size_download}", url])
        code, speed, got = down.pop("curl_out").split()
        if code != "200" or int(got) != size:
            raise BenchError(f"1 GiB download answered {code} with {got} bytes")
        down["MBps"] = float(speed) / 1e6
        o["download"] = down
        o["limit_MiB"] = 64

    step(out, "rss", rss)
    out["checked_in_bytes"] = checked_in["bytes"]
    log("custos: stopping custosd")
    c.stop()

    def verify(o):
        log("custos: custosctl verify")
        p, wall = c.ctl("verify", "--data", c.data, "--json")
        v = json.loads(p.stdout)
        if not v.get("clean"):
            raise BenchError(f"custosctl verify found problems: {v.get('findings')}")
        o["seconds"] = wall
        o["content_bytes"] = v["counts"]["contentBytes"]
        o["counts"] = v["counts"]
        o["MBps"] = o["content_bytes"] / wall / 1e6

    step(out, "verify", verify)


def measure_rss(pid, curl_cmd):
    """Runs curl while watching custosd's memory: the kernel's high-water mark
    (reset first) and a VmRSS sample every 50 ms as a cross-check. curl's own
    RSS is sampled too: it shows that the client streamed the file from disk
    rather than holding it in memory."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    before = read_proc_status(pid)
    samples, client = [], [0]
    stop = threading.Event()
    p = subprocess.Popen(curl_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def sampler():
        while not stop.is_set():
            try:
                samples.append(read_proc_status(pid)["VmRSS"])
            except (OSError, KeyError):
                return
            try:
                client[0] = max(client[0], read_proc_status(p.pid).get("VmRSS", 0))
            except OSError:
                pass
            stop.wait(0.05)

    t = threading.Thread(target=sampler)
    start = time.monotonic()
    t.start()
    try:
        outs, errs = p.communicate(timeout=1900)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise BenchError("curl timed out")
    finally:
        wall = time.monotonic() - start
        stop.set()
        t.join()
    if p.returncode != 0:
        raise BenchError(f"curl exited {p.returncode}: {tail(errs)}")
    after = read_proc_status(pid)
    return {
        "seconds": wall,
        "rss_before_MiB": before["VmRSS"] / MiB,
        "peak_MiB": after["VmHWM"] / MiB,
        "sampled_peak_MiB": max(samples) / MiB if samples else None,
        "samples": len(samples),
        "client_sampled_peak_MiB": client[0] / MiB,
        "curl_out": outs.decode().strip(),
    }


def nginx_conf(prefix, port, cert, key, root):
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temps = "".join(f"  {t}_temp_path {prefix}/tmp/{t};\n"
                    for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""# nginx as the peer for reads: the same files, the same TLS as custosd.
{user}worker_processes auto;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
{temps}  types {{ application/octet-stream bin; application/json json; }}
  default_type application/octet-stream;
  keepalive_timeout 15s;
  keepalive_requests 1000;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers {CUSTOS_CIPHERS};
    ssl_ecdh_curve {CUSTOS_GROUPS};
    ssl_prefer_server_ciphers on;
    root {root};
  }}
}}
"""


def start_nginx(b, name, root):
    """nginx serving `root` over custosd's TLS settings, once it accepts
    connections: (process, https URL, version). Stop it with b.stop_server."""
    prefix = b.path(name)
    os.makedirs(os.path.join(prefix, "tmp"))
    cert, key = os.path.join(prefix, "cert.pem"), os.path.join(prefix, "key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"])
    port = free_port()
    conf = os.path.join(prefix, "nginx.conf")
    with open(conf, "w") as f:
        f.write(nginx_conf(prefix, port, cert, key, root))
    p, _ = run(["nginx", "-v"], check=False)
    version = tail(p.stderr).replace("nginx version: ", "")
    proc = b.start_server("nginx", ["nginx", "-e", os.path.join(prefix, "error.log"),
                                    "-c", conf, "-p", prefix], os.path.join(prefix, "out.log"))
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"https://127.0.0.1:{port}", version
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                b.stop_server(proc)
                with open(os.path.join(prefix, "error.log"), "rb") as f:
                    raise BenchError(f"nginx did not start: {tail(f.read())}")
            time.sleep(0.05)


def sample_record_json(b):
    """A catalogue record response, for when the custos section did not run."""
    c = Custos(b, "custos-sample")
    c.init()
    c.start()
    try:
        _, recs = c.check_in_curl(b.ensure_corpus()["small"]["files"][:1], 1, "sample")
        status, body = c.get(f"/v1/records/{recs[0]['id']}")
        if status != 200:
            raise BenchError(f"GET record answered {status}")
        return body
    finally:
        c.stop()


def section_peers(b, out):
    corpus = b.ensure_corpus()
    root = b.path("corpus")
    pw = b.path("peer-password")
    write_secret(pw, secrets.token_urlsafe(24))
    with open(pw) as f:
        passphrase = f.readline().strip()
    base_env = dict(os.environ, XDG_CACHE_HOME=b.path("xdg-cache"),
                    XDG_CONFIG_HOME=b.path("xdg-config"))

    def tool(name, version_cmd, init, backup, check, env):
        def fn(o):
            p, _ = run(version_cmd, env=env, check=False)
            o["version"] = p.stdout.decode().strip().splitlines()[0] if p.stdout else None
            for set_name in ("large", "small"):
                s = corpus[set_name]
                repo = b.path(f"{name}-repo-{set_name}")
                r = o.setdefault(set_name, {"files": s["count"], "bytes": s["bytes"]})
                log(f"peers: {name} backup of {s['count']} × {s['file_bytes'] // 1024} KiB")
                run(init(repo), env=env, cwd=root)
                _, wall = run(backup(repo, s["dir"]), env=env, cwd=root)
                r["backup_seconds"] = wall
                r["backup_MBps"] = s["bytes"] / wall / 1e6
                r["backup_files_per_s"] = s["count"] / wall
                log(f"peers: {name} check of the {set_name} repository")
                _, wall = run(check(repo), env=env, cwd=root)
                r["check_seconds"] = wall
                r["check_MBps"] = s["bytes"] / wall / 1e6
                shutil.rmtree(repo, ignore_errors=True)
        return fn

    renv = dict(base_env, RESTIC_PASSWORD_FILE=pw, RESTIC_CACHE_DIR=b.path("restic-cache"))
    renv.pop("RESTIC_REPOSITORY", None)
    renv.pop("RESTIC_PASSWORD", None)
    step(out, "restic", tool(
        "restic", ["restic", "version"],
        lambda repo: ["restic", "-r", repo, "init", "--quiet"],
        lambda repo, d: ["restic", "-r", repo, "backup", "--quiet", "--host", "bench", d],
        lambda repo: ["restic", "-r", repo, "check", "--read-data", "--quiet"], renv))
    benv = dict(base_env, BORG_PASSPHRASE=passphrase, BORG_BASE_DIR=b.path("borg-home"),
                BORG_DISPLAY_PASSPHRASE="no")
    benv.pop("BORG_REPO", None)
    step(out, "borg", tool(
        "borg", ["borg", "--version"],
        lambda repo: ["borg", "init", "-e", "repokey", repo],
        lambda repo, d: ["borg", "create", f"{repo}::bench", d],
        lambda repo: ["borg", "check", "--verify-data", repo], benv))

    def nginx(o):
        if b.record_sample is None:
            log("peers: fetching a catalogue record from a throwaway custosd to size the JSON")
            b.record_sample = sample_record_json(b)
        with open(os.path.join(root, "record.json"), "wb") as f:
            f.write(b.record_sample)
        proc, url, o["version"] = start_nginx(b, "nginx", root)
        try:
            dur = 4 if b.quick else 10
            log(f"peers: nginx, 64 KiB files, wrk -c64 {dur}s")
            o["files"] = b.wrk(url, ["/" + p for p in corpus["small"]["files"]], 64, dur,
                               name="nginx-files")
            log(f"peers: nginx, static JSON, wrk -c64 {dur}s")
            o["json"] = b.wrk(url, ["/record.json"], 64, dur, name="nginx-json")
            o["json"]["response_bytes"] = len(b.record_sample)
            for k in ("files", "json"):
                if o[k]["non_2xx"]:
                    raise BenchError(f"nginx answered {o[k]['non_2xx']} non-2xx ({k})")
        finally:
            b.stop_server(proc)

    step(out, "nginx", nginx)


def section_search(b, out):
    seeder = os.path.join(b.bin, "catalogue_seed")
    n = 100_000 if b.quick else 1_000_000
    out["records_wanted"] = n
    if not os.access(seeder, os.X_OK):
        out["skipped"] = f"not available: {os.path.basename(seeder)} is not in the bin directory"
        log("search: " + out["skipped"])
        return
    c = Custos(b, "search")
    c.init()
    log(f"search: seeding {n} records")
    p, wall = run([seeder, "--data", c.data, "--records", str(n)], timeout=7200)
    lines = [ln for ln in p.stdout.decode().splitlines() if ln.strip().startswith("{")]
    if not lines:
        raise BenchError(f"catalogue_seed printed no JSON: {tail(p.stdout)}")
    seed = json.loads(lines[-1])
    out["records"] = seed.get("records")
    out["seed_seconds"] = seed.get("seconds", wall)
    queries = seed.get("queries") or []
    if not queries:
        raise BenchError("catalogue_seed named no queries")
    out["queries"] = len(queries)
    c.start()
    try:
        paths = [f"/v1/records?q={urllib.parse.quote(q)}&page=1&pageSize=20" for q in queries]
        want = 2000
        log(f"search: {want} queries over 4 connections")
        # Bounded in time: a catalogue far from its target would otherwise
        # keep QUICK from finishing in its few minutes. Fewer answers still
        # give a p99, and "complete" says so.
        cap = 15 if b.quick else 300
        lat, bad, wall = timed_gets(c.url, c.cafile, c.token(), paths, 4, want, cap)
        out.update({"requests": len(lat), "requests_wanted": want, "time_cap_s": cap,
                    "complete": len(lat) >= want, "seconds": wall,
                    "req_per_s": len(lat) / wall if wall else None,
                    "p50_ms": percentile(lat, 50), "p99_ms": percentile(lat, 99),
                    "max_ms": max(lat) if lat else None, "connections": 4})
        if bad:
            raise BenchError(f"{len(bad)} searches did not answer 200 (e.g. {bad[0]})")
        if not lat:
            raise BenchError(f"no search finished within {cap} s")
        if len(lat) < want:
            log(f"search: only {len(lat)} of {want} searches within {cap} s")
    finally:
        c.stop()


# The scale (#24): one million records, 100,000 with two pages of text.
# The scale (1,000,000 records, 100,000 with text) takes hours to
# build here: make bench CONTENT_SCALE=1000000:100000 asks for it.
CONTENT_SCALE = (100_000, 10_000)
CONTENT_SCALE_QUICK = (20_000, 2_000)


def search_bench(b, out, n, m, dsn=None):
    """Runs search_bench at n records, m with text; puts its figures in out."""
    exe = os.path.join(b.bin, "search_bench")
    d = b.path("content_search-" + ("postgresql" if dsn else "sqlite"))
    os.makedirs(d)
    js = os.path.join(d, "figures.json")
    cmd = [exe, "--dir", d, "--records", str(n), "--with-text", str(m), "--rounds", "20", "--json", js]
    if dsn:
        cmd += ["--dsn", dsn]
    _, wall = run(cmd, timeout=48 * 3600)
    with open(js) as f:
        out.update(json.load(f))
    out["seconds"] = wall
    # What building the scale would take at the measured rates: a
    # lower bound, since inserts into a larger B-tree cost more.
    per_rec, per_text = out.get("catalogue_s_per_1000_records"), out.get("text_s_per_1000_texts")
    per_checkin = out.get("checkin_s_per_1000")
    if None not in (per_rec, per_text, per_checkin):
        out["issue_scale_build_s_linear"] = (
            per_rec * (CONTENT_SCALE[0] - CONTENT_SCALE[1]) / 1000 +
            (per_checkin + per_text) * CONTENT_SCALE[1] / 1000)
    if out.get("text_bytes") and out.get("texts"):
        out["issue_scale_text_bytes"] = out["text_bytes"] / out["texts"] * CONTENT_SCALE[1]
        if out.get("index_bytes_per_text_byte"):
            out["issue_scale_content_index_bytes"] = (out["issue_scale_text_bytes"] *
                                                      out["index_bytes_per_text_byte"])
    shutil.rmtree(d, ignore_errors=True)


def section_content_search(b, out):
    exe = os.path.join(b.bin, "search_bench")
    n, m = b.content_scale or (CONTENT_SCALE_QUICK if b.quick else CONTENT_SCALE)
    out.update({"records_wanted": n, "texts_wanted": m,
                "issue_scale": {"records": CONTENT_SCALE[0], "texts": CONTENT_SCALE[1]}})
    if not os.access(exe, os.X_OK):
        out["skipped"] = "not available: search_bench is not built"
        log("content_search: " + out["skipped"])
        return
    log(f"content_search: search_bench on SQLite, {n} records, {m} with text")
    search_bench(b, out, n, m)
    if not b.content_postgresql:
        return

    def on_postgresql(o):
        pg = ThrowawayPostgres(b)
        try:
            pg.start()
            pg.psql("postgres", "CREATE DATABASE custos_search")
            log(f"content_search: search_bench on PostgreSQL, {n} records, {m} with text")
            search_bench(b, o, n, m, dsn=pg.dsn("custos_search"))
            sizes = pg.psql("custos_search", "SELECT pg_total_relation_size('search_postings'), "
                            "pg_total_relation_size('file_texts'), pg_database_size('custos_search')")
            post, texts, db = (int(x) for x in sizes.split("|"))
            o.update({"search_postings_bytes": post, "file_texts_bytes": texts, "db_bytes": db})
            if o.get("postings") and o.get("text_bytes"):
                # The content postings' share of the table, by row count.
                o["index_bytes_per_text_byte"] = (post * o["content_postings"] / o["postings"] /
                                                  o["text_bytes"])
        finally:
            pg.stop()

    step(out, "postgresql", on_postgresql)


def set_config(path, key, value):
    """Sets `key = value` in a custos.conf, replacing its line or appending one."""
    with open(path) as f:
        text = f.read()
    text, n = re.subn(rf"(?m)^{re.escape(key)} = .*$", f"{key} = {value}", text)
    if n == 0:
        text += ("" if text.endswith("\n") else "\n") + f"{key} = {value}\n"
    with open(path, "w") as f:
        f.write(text)


EXTRACTION_DONE = ("text", "no_text", "failed")


def wait_extracted(c, records, limit_s):
    """Polls the records' first files in list order until each has a final
    extraction state; returns (time.monotonic() when the last was seen
    done, states counted). Raises BenchError after limit_s."""
    conn = connect(c.url, c.cafile, timeout=120)
    states = {}
    deadline = time.monotonic() + limit_s
    # A custosd without the pipeline never shows an extraction state: give
    # up once no file has moved on for STALL_S.
    STALL_S = 120
    progress = time.monotonic()
    try:
        for r in records:
            while True:
                status, body = c.get(f"/v1/records/{r['id']}", conn)
                if status != 200:
                    raise BenchError(f"GET record answered {status}: {tail(body, 200)}")
                f = next(v for v in json.loads(body)["versions"] if v["number"] == 1)["files"][0]
                state = (f.get("extraction") or {}).get("state")
                if state in EXTRACTION_DONE:
                    states[state] = states.get(state, 0) + 1
                    progress = time.monotonic()
                    break
                if time.monotonic() - progress > STALL_S:
                    raise BenchError(f"no extraction finished for {STALL_S} s (state of "
                                     f"{r['id']}: {state or 'none shown'}; {sum(states.values())} "
                                     f"of {len(records)} done): is the pipeline in this custosd?")
                if time.monotonic() > deadline:
                    raise BenchError(f"extraction not done after {limit_s} s "
                                     f"({sum(states.values())} of {len(records)} files done)")
                time.sleep(0.2)
        return time.monotonic(), states
    finally:
        conn.close()


def section_pipeline(b, out):
    n = 300 if b.quick else 2000
    rounds = 1 if b.quick else 2
    rel, total = text_corpus.generate(b.path("corpus", "texts"), n)
    out.update({"files": n, "bytes": total, "file_bytes_mean": total / n, "rounds": rounds,
                "client": "wrk -t2 -c16, bench/checkin.lua",
                "text": "UTF-8, about 3,000 characters of Chinese words with Latin words"})
    runs = {"off": [], "on": []}
    for r in range(rounds):
        # Alternating which goes first, so that neither always runs on a
        # cooler machine.
        for mode in (("off", "on") if r % 2 == 0 else ("on", "off")):
            c = Custos(b, f"pipeline-{mode}-{r}")
            c.init()
            set_config(os.path.join(c.data, "custos.conf"), "extraction.enabled",
                       "true" if mode == "on" else "false")
            c.start()
            try:
                log(f"pipeline: {n} text check-ins, extraction {mode}, round {r + 1}")
                summary, marker, (t_first, t_last) = c.wrk_check_ins(rel, 16, 2, f"text-{mode}-{r}")
                if mode == "on":
                    # How long the pipeline takes to catch up after the
                    # last answer (not part of the ratio).
                    records = c.find_check_ins(summary, marker, n)
                    done_at, states = wait_extracted(c, records, 1800)
                    summary["extracted_states"] = states
                    summary["extraction_done_after_last_answer_s"] = max(0.0, done_at - t_last)
                    summary["extraction_files_per_s"] = n / (done_at - t_first)
                runs[mode].append(summary)
            finally:
                c.stop()
    for mode in ("off", "on"):
        best = max(runs[mode], key=lambda x: x["per_s"] or 0)
        out[mode] = dict(best)
        out[mode]["per_s_all_rounds"] = [x["per_s"] for x in runs[mode]]
    if out["off"].get("per_s"):
        out["on_vs_off"] = out["on"]["per_s"] / out["off"]["per_s"]


def section_log(b, out):
    exe = os.path.join(b.bin, "log_bench")
    n = 200_000 if b.quick else 10_000_000
    out["entries_wanted"] = n
    if not os.access(exe, os.X_OK):
        out["skipped"] = "not available: log_bench is not built (Google Benchmark missing?)"
        log("log: " + out["skipped"])
        return
    d = b.path("log")
    os.makedirs(d)
    js = os.path.join(d, "figures.json")
    log(f"log: log_bench with {n} entries")
    p, wall = run([exe, "--dir", d, "--entries", str(n), "--json", js],
                  timeout=3 * 3600)
    out["seconds"] = wall
    with open(js) as f:
        figures = json.load(f)
    out.update(figures)
    shutil.rmtree(d, ignore_errors=True)


PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


class ThrowawayPostgres:
    """A PostgreSQL server of its own for the run, started and removed by
    scripts/test-postgres.sh (as root the cluster belongs to the postgres
    user, so its folder sits beside the work directory, whose 0700 the
    postgres user cannot traverse)."""

    def __init__(self, bench):
        self.b = bench
        self.dir = None
        self.host_dsn = None  # without dbname

    def script(self, action):
        return run(["bash", os.path.join(REPO, "scripts", "test-postgres.sh"), action, self.dir],
                   timeout=180)

    def start(self):
        # The script wants a new folder: take a unique name, leave it free.
        self.dir = tempfile.mkdtemp(prefix="custos-bench-pg-", dir=self.b.work_parent)
        os.rmdir(self.dir)
        p, _ = self.script("start")
        dsn = p.stdout.decode().strip().splitlines()[-1]
        self.host_dsn = " ".join(kv for kv in dsn.split() if not kv.startswith("dbname="))

    def dsn(self, db):
        return f"{self.host_dsn} dbname={db}"

    def psql(self, db, *sql):
        cmd = [os.path.join(PG_BIN, "psql"), self.dsn(db), "-X", "-q", "-A", "-t",
               "-v", "ON_ERROR_STOP=1"]
        for q in sql:
            cmd += ["-c", q]
        p, _ = run(cmd, timeout=120)
        return p.stdout.decode().strip()

    def postmaster_pid(self):
        with open(os.path.join(self.dir, "data", "postmaster.pid")) as f:
            return int(f.readline())

    STAT_COLUMNS = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated",
                    "tup_deleted", "tup_fetched", "blks_hit", "blks_read")

    def db_stats(self, db):
        """pg_stat_database's counters of db once they have settled:
        backends report their counts up to a second after their
        transactions end."""
        sql = (f"SELECT {', '.join(self.STAT_COLUMNS)} FROM pg_stat_database "
               f"WHERE datname = '{db}'")
        last, deadline = None, time.monotonic() + 5
        while True:
            now = [int(x) for x in self.psql("postgres", sql).split("|")]
            if now == last or time.monotonic() > deadline:
                return dict(zip(self.STAT_COLUMNS, now))
            last = now
            time.sleep(0.6)

    def stop(self):
        if self.dir is not None:
            try:
                self.script("stop")
            except BenchError as e:
                log(f"scaleout: stopping PostgreSQL: {e}")
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


def proc_cpu_s(pid, reaped_children=False):
    """User + system CPU seconds of a process (and of its reaped children)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def postgres_cpu_s(postmaster):
    """CPU seconds of a PostgreSQL server: the postmaster, its live
    backends and those it has reaped."""
    total = proc_cpu_s(postmaster, reaped_children=True)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == postmaster:
                total += proc_cpu_s(int(entry))
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total


def machine_cpu_ticks():
    """(busy, iowait, total) ticks of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle, iowait = v[3], v[4] if len(v) > 4 else 0
    total = sum(v[:8])
    return total - idle - iowait, iowait, total


class CpuUsage:
    """Where the CPU went during one measurement: custosd nodes, PostgreSQL
    and the whole machine. It tells a server that is short of cores from one
    that waits (on the disk, on a lock)."""

    def __init__(self, node_pids, postmaster):
        self.node_pids = node_pids
        self.postmaster = postmaster

    def snapshot(self):
        return (time.monotonic(), [proc_cpu_s(p) for p in self.node_pids],
                postgres_cpu_s(self.postmaster), machine_cpu_ticks())

    def __enter__(self):
        self.start = self.snapshot()
        return self

    def __exit__(self, *exc):
        self.end = self.snapshot()
        return False

    def figures(self, ops):
        """ops: the commits or check-ins done meanwhile, for the per-op costs."""
        (t0, n0, pg0, m0), (t1, n1, pg1, m1) = self.start, self.end
        total = m1[2] - m0[2]
        nodes = [b - a for a, b in zip(n0, n1)]
        return {"wall_s": t1 - t0, "custosd_cpu_s": nodes, "postgres_cpu_s": pg1 - pg0,
                "custosd_cpu_ms_per_op": sum(nodes) * 1000 / ops if ops and nodes else None,
                "postgres_cpu_ms_per_op": (pg1 - pg0) * 1000 / ops if ops else None,
                "machine_busy": (m1[0] - m0[0]) / total if total else None,
                "machine_iowait": (m1[1] - m0[1]) / total if total else None,
                "cores": len(os.sched_getaffinity(0))}


def per_op(before, after, ops):
    """The change of each pg_stat_database counter per check-in."""
    return {k: (after[k] - before[k]) / ops for k in after} if ops else None


def pgbench(pg, db, args, seconds):
    """pgbench with 16 clients on 2 threads for `seconds`; returns its figures."""
    cmd = [os.path.join(PG_BIN, "pgbench"), "-n", "-c", "16", "-j", "2", "-T", str(seconds),
           *args, pg.dsn(db)]
    p, wall = run(cmd, timeout=seconds + 120)
    text = p.stdout.decode(errors="replace")

    def figure(pattern):
        m = re.search(pattern, text, re.M)
        return float(m.group(1)) if m else None

    tps = figure(r"^tps = ([\d.]+) \(without initial connection time\)")
    if tps is None:
        raise BenchError(f"pgbench printed no tps: {tail(text)} {tail(p.stderr)}")
    return {"client": f"pgbench -n -c 16 -j 2 -T {seconds} {' '.join(args)}".strip(),
            "clients": 16, "threads": 2, "seconds": seconds, "tps": tps,
            "transactions": figure(r"^number of transactions actually processed: (\d+)"),
            "failed": figure(r"^number of failed transactions: (\d+)"),
            "latency_avg_ms": figure(r"^latency average = ([\d.]+) ms"),
            "process_seconds": wall}


# One small INSERT per transaction: what a single durable commit costs the
# server, with its own group commit across 16 sessions.
PGBENCH_INSERT = """\\set v random(1, 1000000)
INSERT INTO bench_commits (v) VALUES (:v);
"""


def section_extraction(b, out):
    work = os.path.join(b.work, "extraction")
    os.makedirs(work, exist_ok=True)
    log("extraction: custos-extract on generated PDFs and a 300 dpi scan")
    out.update(extraction_bench.measure(b.bin, work, b.quick))


def section_loan_copy(b, out):
    work = os.path.join(b.work, "loan_copy")
    os.makedirs(work, exist_ok=True)
    log("loan_copy: custos-stamp on generated 20- and 200-page PDFs")
    out.update(stamp_bench.measure(b.bin, work, b.quick))


def section_preview(b, out):
    work = os.path.join(b.work, "preview-documents")
    os.makedirs(work, exist_ok=True)
    c = Custos(b, "preview")
    c.init()
    c.start()
    try:
        log("preview: first page of 20-page PDFs through custosd, cold and cached")
        out.update(preview_bench.measure(lambda: connect(c.url, c.cafile), c.token(), work, b.quick))
    finally:
        c.stop()


def section_attest(b, out):
    exe = os.path.join(b.bin, "attest_bench")
    if not os.access(exe, os.X_OK):
        out["skipped"] = "not available: attest_bench is not built (it needs the test build)"
        log("attest: " + out["skipped"])
        return
    d = b.path("attest")
    os.makedirs(d)
    js = os.path.join(d, "figures.json")
    rounds = 30 if b.quick else 200
    log(f"attest: attest_bench, {rounds} checkpoints")
    _, wall = run([exe, "--dir", d, "--rounds", str(rounds), "--json", js], timeout=1800)
    out["seconds"] = wall
    with open(js) as f:
        out.update(json.load(f))
    base = (out.get("checkpoint") or {}).get("wall_ms_p50")
    for k in ("cosign", "timestamp"):
        v = (out.get(k) or {}).get("wall_ms_p50")
        if base and v is not None:
            out[f"{k}_vs_checkpoint"] = v / base
    shutil.rmtree(d, ignore_errors=True)


def section_tiles(b, out):
    corpus = b.ensure_corpus()
    c = Custos(b, "tiles")
    c.init()
    c.start()
    mirror = b.path("tiles-mirror")
    os.makedirs(mirror)
    dur = 4 if b.quick else 10
    try:
        # Every content read logs one entry: reads of one small file grow
        # the log to a few full tiles.
        _, recs = c.check_in_curl(corpus["small"]["files"][:1], 1, "tiles")
        want = 1024 if b.quick else 4096
        log(f"tiles: growing the log by {want} content reads")
        path = f"/v1/records/{recs[0]['id']}/versions/1/files/{recs[0]['file']}"
        _, bad, _ = timed_gets(c.url, c.cafile, c.token(), [path], 16, want, 600)
        if bad:
            raise BenchError(f"{len(bad)} content reads answered {sorted(set(bad))}")
        log("tiles: mirroring every tile of the served checkpoint")
        m = tiles_bench.mirror(lambda: connect(c.url, c.cafile), mirror)
        out["log_size"] = m["size"]
        out["mirror_bytes"] = m["bytes_fetched"]
        out["full_hash_tiles"] = len(m["full_hash_tiles"])
        out["full_entry_bundles"] = len(m["full_entry_bundles"])
        for key, paths in (("hash", m["full_hash_tiles"]), ("entries", m["full_entry_bundles"])):
            log(f"tiles: custosd, full {key} tiles, wrk -c64 {dur}s")
            out[f"custos_{key}"] = b.wrk(c.url, paths, 64, dur, name=f"custos-tiles-{key}")
    finally:
        c.stop()
    proc, url, out["nginx_version"] = start_nginx(b, "nginx-tiles", mirror)
    try:
        for key, paths in (("hash", m["full_hash_tiles"]), ("entries", m["full_entry_bundles"])):
            log(f"tiles: nginx, the same {key} tiles from disk, wrk -c64 {dur}s")
            out[f"nginx_{key}"] = b.wrk(url, paths, 64, dur, name=f"nginx-tiles-{key}")
    finally:
        b.stop_server(proc)
    for k in ("custos_hash", "custos_entries", "nginx_hash", "nginx_entries"):
        if out[k]["non_2xx"]:
            raise BenchError(f"{out[k]['non_2xx']} tile requests did not answer 2xx ({k})")


def section_compare(b, out):
    work = os.path.join(b.work, "compare-documents")
    os.makedirs(work, exist_ok=True)
    c = Custos(b, "compare")
    c.init()
    # The comparing caller is legal, who reads contracts (docs/security.md);
    # the bench's archivist checks them in.
    legal_pw = os.path.join(c.dir, "legal-password")
    write_secret(legal_pw, secrets.token_urlsafe(18))
    c.ctl("user", "add", "legal", "--role", "legal", "--department", "sales",
          "--password-file", legal_pw, "--no-force-change", "--data", c.data)
    c.start()
    try:
        with open(legal_pw) as f:
            legal = sign_in(c.url, c.cafile, "legal", f.readline().strip())
        log("compare: version 1 against 2 of 50-page contracts through custosd")
        out.update(compare_bench.measure(lambda: connect(c.url, c.cafile), c.token(), legal, work,
                                         b.quick))
    finally:
        c.stop()


def section_scaleout(b, out):
    corpus = b.ensure_corpus()
    pg = ThrowawayPostgres(b)
    try:
        scaleout(b, out, corpus, pg)
    finally:
        # The nodes go before their database does; then the server, always.
        b.stop_all()
        log("scaleout: stopping and removing PostgreSQL")
        pg.stop()


def scaleout(b, out, corpus, pg):
    secs = 3 if b.quick else 10
    log("scaleout: starting a throwaway PostgreSQL")
    pg.start()
    pg.psql("postgres", "CREATE DATABASE custos_bench", "CREATE DATABASE pgbench")
    # The settings a commit rate depends on (the script's cluster keeps
    # PostgreSQL's defaults: fsync and synchronous_commit on).
    settings = pg.psql("postgres", "SELECT name || '=' || current_setting(name) "
                       "FROM pg_settings WHERE name IN ('server_version', 'fsync', "
                       "'synchronous_commit', 'wal_sync_method', 'commit_delay', "
                       "'shared_buffers') ORDER BY name")
    out["postgres"] = dict(line.split("=", 1) for line in settings.splitlines())

    def insert(o):
        pg.psql("pgbench", "CREATE TABLE bench_commits (id bigserial PRIMARY KEY, "
                "v integer NOT NULL)")
        script = b.path("pgbench-insert.sql")
        with open(script, "w") as f:
            f.write(PGBENCH_INSERT)
        log(f"scaleout: pgbench, one INSERT per transaction, 16 clients, {secs} s")
        with CpuUsage([], pg.postmaster_pid()) as u:
            o.update(pgbench(pg, "pgbench", ["-f", script], secs))
        o["cpu"] = u.figures(o["transactions"])
        o["script"] = PGBENCH_INSERT

    step(out, "pgbench_insert", insert)

    def simple_update(o):
        run([os.path.join(PG_BIN, "pgbench"), "-i", "-s", "1", "-q", pg.dsn("pgbench")],
            timeout=300)
        log(f"scaleout: pgbench -N (simple update), 16 clients, {secs} s")
        with CpuUsage([], pg.postmaster_pid()) as u:
            o.update(pgbench(pg, "pgbench", ["-N"], secs))
        o["cpu"] = u.figures(o["transactions"])
        o["scale"] = 1

    step(out, "pgbench_simple_update", simple_update)

    files = corpus["small"]["files"]
    node1 = Custos(b, "scaleout-node1")
    log("scaleout: custosctl init on PostgreSQL")
    node1.init("--backend", "postgresql", "--dsn", pg.dsn("custos_bench"))
    node1.start()
    node1.token()
    nodes = [node1]

    def one_node(o):
        log(f"scaleout: check-in of {len(files)} × 64 KiB, 1 node, 16 clients")
        db0 = pg.db_stats("custos_bench")
        with CpuUsage([node1.proc.pid], pg.postmaster_pid()) as u:
            s, marker, _ = node1.wrk_check_ins(files, 16, 2, "pg1node")
        o.update(s)
        o["cpu"] = u.figures(s["count"])
        o["postgres_per_checkin"] = per_op(db0, pg.db_stats("custos_bench"), s["count"])
        node1.find_check_ins(o, marker, len(files))
        o["nodes"] = 1

    step(out, "checkin_64KiB_1node", one_node)

    def two_nodes(o):
        node2 = Custos(b, "scaleout-node2", shared=node1)
        node2.start()
        nodes.append(node2)
        node2.token()
        # 8 + 8 clients, one wrk thread each: two client threads in all, as
        # for one node.
        half = len(files) // 2
        shares = [files[:half], files[half:]]
        log(f"scaleout: check-in of {len(files)} × 64 KiB, 2 nodes, 8 + 8 clients")
        got = [None, None]

        def client(i):
            try:
                got[i] = nodes[i].wrk_check_ins(shares[i], 8, 1, f"pg2nodes{i + 1}")
            except Exception as e:  # reported below, after both have ended
                got[i] = e

        db0 = pg.db_stats("custos_bench")
        cpu0 = children_cpu_s()
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in (0, 1)]
        with CpuUsage([n.proc.pid for n in nodes], pg.postmaster_pid()) as u:
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        client_cpu = children_cpu_s() - cpu0
        errors = [f"node {i + 1}: {g}" for i, g in enumerate(got) if isinstance(g, Exception)]
        if errors:
            raise BenchError("; ".join(errors))
        per_node = []
        for s, _, _ in got:
            s.pop("client_cpu_s", None)  # both wrks' children: counted once below
            per_node.append(s)
        first = min(span[0] for _, _, span in got)
        last = max(span[1] for _, _, span in got)
        count = sum(s["count"] for s in per_node)
        size = corpus["small"]["file_bytes"]
        o.update({"client": "2 × wrk -t1 -c8, bench/checkin.lua, one per node",
                  "nodes": 2, "clients": 16, "threads": 2, "count": count,
                  "attempted": len(files), "bytes": count * size, "seconds": last - first,
                  "per_s": count / (last - first), "MBps": count * size / (last - first) / 1e6,
                  "client_cpu_s": client_cpu, "per_node": per_node,
                  "cpu": u.figures(count),
                  "postgres_per_checkin": per_op(db0, pg.db_stats("custos_bench"), count)})
        # Each node's records are found through the other node: the
        # catalogue is one.
        t0 = time.monotonic()
        for i, (s, marker, _) in enumerate(got):
            other = nodes[1 - i]
            found = other.find_records(marker, len(shares[i]))
            if len(found) != s["count"]:
                raise BenchError(f"node {i + 1} checked in {s['count']} records, node "
                                 f"{2 - i} finds {len(found)} with their marker")
        o["find_records_seconds"] = time.monotonic() - t0

    step(out, "checkin_64KiB_2nodes", two_nodes)

    def ratio(num, den):
        a, d = get_number(out, *num), get_number(out, *den)
        return a / d if a is not None and d else None

    out["checkins_per_commit_1node"] = ratio(("checkin_64KiB_1node", "per_s"),
                                             ("pgbench_insert", "tps"))
    out["checkins_per_commit_2nodes"] = ratio(("checkin_64KiB_2nodes", "per_s"),
                                              ("pgbench_insert", "tps"))
    out["two_nodes_vs_one"] = ratio(("checkin_64KiB_2nodes", "per_s"),
                                    ("checkin_64KiB_1node", "per_s"))

    def stop_and_verify(o):
        log("scaleout: stopping the nodes; custosctl verify")
        for n in reversed(nodes):
            n.stop()
        p, wall = node1.ctl("verify", "--data", node1.data, "--json")
        v = json.loads(p.stdout)
        if not v.get("clean"):
            raise BenchError(f"custosctl verify found problems: {v.get('findings')}")
        o["seconds"] = wall
        o["counts"] = v["counts"]

    step(out, "verify", stop_and_verify)


def get_number(d, *path):
    for k in path:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d if isinstance(d, (int, float)) and not isinstance(d, bool) else None


# --- ratios ----------------------------------------------------------------

# id, figure, Custos value (path), unit, reference (path or number),
# reference label, comparison, target. The ratio is Custos / reference; a
# comparison of None is informational.
RATIOS = [
    ("checkin_vs_pipeline", "check-in of 16 MiB files, 1 client", ("custos", "checkin_16MiB_1client", "MBps"), "MB/s",
     ("bounds", "pipeline_bound_MBps"), "crypto pipeline bound, AES-256-GCM + SHA-256 on 1 core", ">=", 0.6),
    ("checkin_vs_restic", "check-in of 16 MiB files, best of 1 and 2 clients", ("custos", "checkin_16MiB_best_MBps"), "MB/s",
     ("peers", "restic", "large", "backup_MBps"), "restic backup", ">=", 3),
    ("checkin_vs_borg", "check-in of 16 MiB files, best of 1 and 2 clients", ("custos", "checkin_16MiB_best_MBps"), "MB/s",
     ("peers", "borg", "large", "backup_MBps"), "borg create", ">=", 3),
    ("checkins_vs_fsync", "durable check-ins of 64 KiB files, 16 clients", ("custos", "checkin_64KiB_16clients", "per_s"), "/s",
     ("bounds", "fsync", "fsyncs_per_s"), "disk fsync/s, 4 KiB write + fsync", ">=", 0.5),
    ("checkins_vs_borg", "durable check-ins of 64 KiB files, 16 clients", ("custos", "checkin_64KiB_16clients", "per_s"), "/s",
     ("peers", "borg", "small", "backup_files_per_s"), "borg create, files/s", ">=", 2),
    ("tiles_hash_vs_nginx", "tlog-tiles: full hash tiles (8 KiB)", ("tiles", "custos_hash", "req_per_s"), "/s",
     ("tiles", "nginx_hash", "req_per_s"), "nginx, the same tiles as files over TLS", None, None),
    ("tiles_entries_vs_nginx", "tlog-tiles: full entry bundles", ("tiles", "custos_entries", "req_per_s"), "/s",
     ("tiles", "nginx_entries", "req_per_s"), "nginx, the same bundles as files over TLS", None, None),
    ("reads_vs_nginx", "content reads of 64 KiB files (each logged)", ("custos", "content_reads", "req_per_s"), "/s",
     ("peers", "nginx", "files", "req_per_s"), "nginx, the same files over TLS", ">=", 0.5),
    ("gets_vs_nginx", "catalogue GETs of one record", ("custos", "catalogue_gets", "req_per_s"), "/s",
     ("peers", "nginx", "json", "req_per_s"), "nginx, static JSON of the same size", ">=", 0.5),
    ("log_batched", "audit log appends, batched", ("log", "appends_per_s_batched"), "/s",
     10000, "10,000/s", ">=", 1),
    ("log_verify_vs_hashing", "audit log re-verification with the state replay, per CPU second",
     ("log", "verify_leaves_per_cpu_s"), "leaves/s",
     ("log", "verify_hash_bound_leaves_per_s"), "SHA-256 of the same leaves and nodes alone, 1 core", ">=", 0.5),
    ("log_verify_rss", "verifier peak RSS, re-verifying the whole log", ("log", "verify_peak_rss_MiB"), "MiB",
     256, "256 MiB", "<", 1),
    ("log_replay", "state replay: check-in entries decoded and folded, per CPU second", ("log", "replay_entries_per_cpu_s"),
     "entries/s", 40670, "40,670 leaves/s (re-verification before the replay)", ">=", 1),
    ("log_replay_vs_hashing", "state replay: check-in entries decoded and folded, per CPU second",
     ("log", "replay_entries_per_cpu_s"), "entries/s", ("log", "replay_hash_bound_entries_per_s"),
     "SHA-256 of the same leaves and nodes alone, 1 core", None, None),
    ("log_replay_fold", "state replay: folding alone, per CPU second", ("log", "replay_fold_entries_per_cpu_s"),
     "entries/s", 40670, "40,670 leaves/s (re-verification before the replay)", ">=", 1),
    ("log_proof", "inclusion proof p99", ("log", "proof_us_p99"), "µs",
     500, "0.5 ms", "<", 1),
    ("seal_check_vs_hmac", "row seal check per row read (pages of 50 loans)", ("log", "seal_check_ns_per_row"), "ns",
     ("log", "seal_hmac_bound_ns_per_row"), "HMAC-SHA256 of the same rows' sealed bytes alone, 1 core", None, None),
    ("seal_check_share", "row seal checks' share of reading a page of 50 loans", ("log", "seal_check_share_of_page"), "",
     1, "the whole page read", None, None),
    ("startup_check", "custosd start-up on the filled log: open with the row sealer and the start-up check",
     ("log", "startup_check_s"), "s", 5, "5 s", "<", 1),
    ("rss_upload", "custosd peak RSS, 1 GiB upload", ("custos", "rss", "upload", "peak_MiB"), "MiB",
     64, "64 MiB", "<", 1),
    ("rss_download", "custosd peak RSS, 1 GiB download", ("custos", "rss", "download", "peak_MiB"), "MiB",
     64, "64 MiB", "<", 1),
    ("search_p99", "catalogue search p99", ("search", "p99_ms"), "ms",
     50, "50 ms", "<", 1),
    ("content_search_p99", "content search p99 (RecordService::Search in-process, 2 callers)",
     ("content_search", "p99_ms"), "ms", 50, "50 ms", "<", 1),
    ("content_index_bytes", "content index bytes per byte of text",
     ("content_search", "index_bytes_per_text_byte"), "", 1, "the text itself", None, None),
    ("pipeline_checkins_on_vs_off", "check-ins/s of text files with extraction on, 16 clients",
     ("pipeline", "on", "per_s"), "/s", ("pipeline", "off", "per_s"),
     "the same with extraction.enabled = false", ">=", 0.9),
    ("verify_vs_restic", "custosctl verify", ("custos", "verify", "MBps"), "MB/s",
     ("peers", "restic", "large", "check_MBps"), "restic check --read-data", None, None),
    ("verify_vs_borg", "custosctl verify", ("custos", "verify", "MBps"), "MB/s",
     ("peers", "borg", "large", "check_MBps"), "borg check --verify-data", None, None),
    ("verify_vs_pipeline", "custosctl verify", ("custos", "verify", "MBps"), "MB/s",
     ("bounds", "pipeline_bound_MBps"), "crypto pipeline bound", None, None),
    ("scaleout_1node_vs_pgbench", "durable check-ins of 64 KiB files on PostgreSQL, 1 node, 16 clients",
     ("scaleout", "checkin_64KiB_1node", "per_s"), "/s",
     ("scaleout", "pgbench_insert", "tps"), "pgbench commits/s, one INSERT each, 16 clients", ">=", 0.2),
    ("scaleout_2nodes_vs_pgbench", "durable check-ins of 64 KiB files on PostgreSQL, 2 nodes, 8 + 8 clients",
     ("scaleout", "checkin_64KiB_2nodes", "per_s"), "/s",
     ("scaleout", "pgbench_insert", "tps"), "pgbench commits/s, one INSERT each, 16 clients", None, None),
    ("scaleout_2nodes_vs_1node", "durable check-ins of 64 KiB files on PostgreSQL, 2 nodes, 8 + 8 clients",
     ("scaleout", "checkin_64KiB_2nodes", "per_s"), "/s",
     ("scaleout", "checkin_64KiB_1node", "per_s"), "the same on 1 node, 16 clients", None, None),
]


def lookup(results, path):
    v = results.get("sections", {})
    for k in path:
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def compute_ratios(results):
    rows = []
    for rid, figure, cpath, unit, ref, ref_label, op, target in RATIOS:
        value = lookup(results, cpath)
        refv = ref if isinstance(ref, (int, float)) else lookup(results, ref)
        ratio = value / refv if value is not None and refv else None
        met = None
        if ratio is not None and op is not None:
            met = ratio >= target if op == ">=" else ratio < target
        rows.append({"id": rid, "figure": figure, "unit": unit, "custos": value,
                     "reference": refv, "reference_label": ref_label,
                     "reference_is_target": isinstance(ref, (int, float)),
                     "ratio": ratio, "op": op, "target": target, "met": met})
    # Figure sizes that the labels depend on.
    return rows


# --- machine and bookkeeping --------------------------------------------------


def machine(work):
    info = {"nproc": len(os.sched_getaffinity(0)), "cpus_online": os.cpu_count(),
            "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            info["cpu"] = m.group(1).strip() if m else None
        with open("/proc/meminfo") as f:
            m = re.search(r"^MemTotal:\s+(\d+) kB", f.read(), re.M)
            info["ram_GiB"] = round(int(m.group(1)) / MiB, 1) if m else None
    except OSError:
        pass
    # The filesystem of the work directory: the mount with the longest
    # matching mount point.
    real, best = os.path.realpath(work), ("", None)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                mp = left.split()[4]
                if (real == mp or real.startswith(mp.rstrip("/") + "/")) and len(mp) >= len(best[0]):
                    best = (mp, right.split()[0])
    except OSError:
        pass
    info["work_filesystem"] = best[1]
    return info


def tool_versions():
    out = {}
    for name, cmd in [("wrk", ["wrk", "-v"]), ("curl", ["curl", "--version"]),
                      ("gnuplot", ["gnuplot", "--version"])]:
        try:
            p = subprocess.run(cmd, capture_output=True, timeout=10)
            text = (p.stdout or p.stderr).decode(errors="replace").strip()
            out[name] = text.splitlines()[0] if text else None
        except (OSError, subprocess.TimeoutExpired):
            out[name] = None
    return out


def scrub(value, work):
    """The work directory's path means nothing after the run: drop it."""
    if isinstance(value, dict):
        return {k: scrub(v, work) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub(v, work) for v in value]
    if isinstance(value, str) and work:
        return value.replace(work, "$WORK")
    return value


def collect_errors(value, path=""):
    errs = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "error":
                errs.append(f"{path}: {v}")
            else:
                errs.extend(collect_errors(v, f"{path}.{k}" if path else k))
    return errs


def main():
    ap = argparse.ArgumentParser(description="Custos benchmarks (DESIGN §8).")
    ap.add_argument("--bin", required=True, help="directory with custosd, custosctl, log_bench, ...")
    ap.add_argument("--quick", action="store_true", help="smaller corpus, log and catalogue")
    ap.add_argument("--work", default="/var/tmp",
                    help="parent of the fresh work directory (default /var/tmp; not tmpfs)")
    ap.add_argument("--only", help="comma-separated sections: " + ",".join(SECTIONS))
    ap.add_argument("--keep-work", action="store_true", help="keep the work directory")
    ap.add_argument("--content-postgresql", action="store_true",
                    help="content_search: also on a throwaway PostgreSQL, at the same scale")
    ap.add_argument("--content-scale", metavar="N:M",
                    help="content_search: N records, M with text (default 100000:10000, "
                         "quick 20000:2000; the issue's scale 1000000:100000 takes hours)")
    ap.add_argument("--no-report", action="store_true", help="do not regenerate docs/benchmarks.md")
    ap.add_argument("--results-dir", default=os.path.join(HERE, "results"))
    args = ap.parse_args()
    if args.content_scale:
        try:
            n, m = (int(x) for x in args.content_scale.split(":"))
            if n < 1 or not 0 <= m <= n:
                raise ValueError
        except ValueError:
            ap.error("--content-scale wants N:M with 0 <= M <= N, N >= 1")
        args.content_scale = (n, m)
    only = SECTIONS if not args.only else [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        ap.error(f"unknown section(s) {unknown}; known: {SECTIONS}")
    for exe in ("custosd", "custosctl"):
        if any(s in only for s in ("custos", "search", "peers", "scaleout", "pipeline", "tiles")) and \
                not os.access(os.path.join(args.bin, exe), os.X_OK):
            ap.error(f"{exe} not found in {args.bin}")

    started = datetime.datetime.now(datetime.timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")

    def on_signal(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    b = Bench(args)
    b.work = tempfile.mkdtemp(prefix="custos-bench-", dir=args.work)
    os.chmod(b.work, 0o700)
    results = {
        "schema": 1,
        "started_utc": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "quick": args.quick,
        "sections_run": [s for s in SECTIONS if s in only],
        "bin": args.bin,
        "machine": machine(b.work),
        "tools": tool_versions(),
        "loadavg_start": os.getloadavg(),
        "sections": b.results,
    }
    log(f"work directory {b.work} on {results['machine']['work_filesystem']}")
    if results["machine"]["work_filesystem"] in ("tmpfs", "ramfs"):
        log("WARNING: the work directory is on tmpfs: fsync figures will be meaningless")
    fns = {"corpus": section_corpus, "bounds": section_bounds, "custos": section_custos,
           "peers": section_peers, "search": section_search, "log": section_log,
           "extraction": section_extraction, "loan_copy": section_loan_copy, "preview": section_preview,
           "compare": section_compare, "tiles": section_tiles, "attest": section_attest, "scaleout": section_scaleout,
           "content_search": section_content_search, "pipeline": section_pipeline}
    interrupted = False
    try:
        for name in SECTIONS:
            if name not in only:
                continue
            out = b.results.setdefault(name, {})
            t0 = time.monotonic()
            log(f"== {name}")
            try:
                fns[name](b, out)
            except BenchError as e:
                out["error"] = str(e)
                log(f"{name}: ERROR {e}")
            except Exception as e:
                out["error"] = f"{type(e).__name__}: {e}"
                log(f"{name}: ERROR\n{traceback.format_exc()}")
            finally:
                # A failed section must not leave its servers to the next one.
                b.stop_all()
            out["section_seconds"] = round(time.monotonic() - t0, 2)
    except KeyboardInterrupt:
        interrupted = True
        log("interrupted: stopping servers and removing the work directory")
    finally:
        b.stop_all()
        if args.keep_work:
            log(f"work directory kept: {b.work}")
        else:
            shutil.rmtree(b.work, ignore_errors=True)
    if interrupted:
        return 130

    results["ratios"] = compute_ratios(results)
    results["loadavg_end"] = os.getloadavg()
    results["elapsed_s"] = round(time.monotonic() - START, 1)
    results = scrub(results, b.work)
    errors = collect_errors(results["sections"])
    results["errors"] = errors
    os.makedirs(args.results_dir, exist_ok=True)
    out_path = os.path.join(args.results_dir, f"{stamp}.json")
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1, sort_keys=False)
        f.write("\n")
    log(f"results: {os.path.relpath(out_path, REPO)}")
    if not args.no_report:
        p = subprocess.run([sys.executable, os.path.join(HERE, "report.py"), out_path])
        if p.returncode != 0:
            errors.append("report.py failed")
    for row in results["ratios"]:
        if row["ratio"] is not None:
            flag = {True: "met", False: "NOT MET", None: "info"}[row["met"]]
            tgt = f"{row['op']} {row['target']}" if row["op"] else ""
            log(f"  {row['id']:<20} ratio {row['ratio']:.3g} {tgt} {flag}")
    for e in errors:
        log(f"ERROR {e}")
    log(f"elapsed {results['elapsed_s']} s")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
