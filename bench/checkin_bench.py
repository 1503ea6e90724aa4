#!/usr/bin/env python3
"""Only the custos section's check-ins, and the bounds they are compared
with, with bench/run.py's own code: for before and after comparisons of the
check-in path without a whole `make bench`.

  bench/checkin_bench.py BINDIR [--large N] [--small N] [--rounds R]
                         [--no-bounds] [--profile-large S] [--profile-small]

Checks in N (4) 16 MiB files with curl, one client (`check_in_curl`), and
N (300) 64 KiB files with bench/checkin.lua, 16 clients (`check_in_wrk`),
R times each, into one custosd. Prints one line "RESULT {...}": MB/s and
check-ins/s, custosd's CPU time per check-in (from /proc, steadier than
the rates on a shared machine) and, unless --no-bounds, the ratios to the
crypto pipeline bound (`openssl speed`, AES-256-GCM + SHA-256 on one core)
and to the fsync rate, both measured in the same run (`section_bounds`).
--profile-large S: custosd's pid is written to $WORK/pid and the script
waits S seconds before the large check-ins (for perf or strace -p).
--rss-mib M: last, one upload of M MiB with curl, custosd's peak RSS over
it (`measure_rss`, as the custos section's "rss" figure).
"""
import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import types
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R
import corpus as corpus_mod

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("--large", type=int, default=4)
ap.add_argument("--small", type=int, default=300)
ap.add_argument("--rounds", type=int, default=1)
ap.add_argument("--no-bounds", action="store_true")
ap.add_argument("--profile-large", type=int, default=0)
ap.add_argument("--profile-small", type=int, default=0)
ap.add_argument("--rss-mib", type=int, default=0, help="then one upload of this many MiB, custosd's peak RSS")
a = ap.parse_args()

b = R.Bench(types.SimpleNamespace(bin=a.bin, quick=True, content_scale=None,
                                  content_postgresql=False, work="/var/tmp"))
b.work = tempfile.mkdtemp(prefix="custos-checkin-", dir="/var/tmp")
os.chmod(b.work, 0o700)


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


out = {"large": [], "small": []}
try:
    root = b.path("corpus"); os.makedirs(root)
    large = corpus_mod._write_set(root, "large", a.large, 16 << 20, corpus_mod.SEED + 1)
    small = corpus_mod._write_set(root, "small", a.small, 64 << 10, corpus_mod.SEED)
    if not a.no_bounds:
        bounds = {}
        R.section_bounds(b, bounds)
        out["pipeline_bound_MBps"] = bounds["pipeline_bound_MBps"]
        out["fsyncs_per_s"] = bounds["fsync"]["fsyncs_per_s"]
    c = R.Custos(b, "custos"); c.init(); c.start(); c.token()
    pid = c.proc.pid
    for r in range(a.rounds):
        if a.profile_large:
            open(b.path("pid"), "w").write(str(pid))
            R.log(f"custosd pid {pid} (in {b.path('pid')}); large check-ins in {a.profile_large} s")
            time.sleep(a.profile_large)
        c0 = cpu(pid)
        s, _ = c.check_in_curl(large["files"], 1, f"large{r}")
        s["cpu_ms_per_checkin"] = (cpu(pid) - c0) * 1e3 / s["count"]
        out["large"].append({k: s[k] for k in ("MBps", "seconds", "cpu_ms_per_checkin", "client_cpu_s")})
        if a.profile_small:
            open(b.path("pid"), "w").write(str(pid))
            R.log(f"custosd pid {pid} (in {b.path('pid')}); small check-ins in {a.profile_small} s")
            time.sleep(a.profile_small)
        c0 = cpu(pid)
        s, _, _ = c.wrk_check_ins(small["files"], 16, 2, f"small{r}")
        s["cpu_us_per_checkin"] = (cpu(pid) - c0) * 1e6 / s["count"]
        out["small"].append({k: s[k] for k in ("per_s", "p99_ms", "cpu_us_per_checkin")})
    if a.rss_mib:
        big = os.path.join(root, "big.bin")
        corpus_mod._write(big, random.Random(corpus_mod.SEED + 2), a.rss_mib << 20)
        meta = os.path.join(c.dir, "big-meta.json")
        with open(meta, "w") as f:
            json.dump({"type": "general", "title": "bench big file", "department": "sales",
                       "classification": "internal"}, f)
        up = R.measure_rss(pid, ["curl", "-sS", "--max-time", "1800", "--cacert", c.cafile,
                                 "-H", f"@{c.header_file()}", "-H", "Expect:",
                                 "-F", f"metadata=<{meta};type=application/json",
                                 "-F", f"file=@{big};type=application/octet-stream",
                                 "-o", "/dev/null", "-w", "%{http_code} %{speed_upload}",
                                 f"{c.url}/v1/records"])
        code, speed = up.pop("curl_out").split()
        out["rss_upload"] = {"status": code, "MBps": float(speed) / 1e6, "peak_MiB": up["peak_MiB"],
                             "rss_before_MiB": up["rss_before_MiB"]}
    c.stop()
finally:
    b.stop_all()
    shutil.rmtree(b.work, ignore_errors=True)
best_mb = max(x["MBps"] for x in out["large"])
best_s = max(x["per_s"] for x in out["small"])
out["large_best_MBps"] = best_mb
out["small_best_per_s"] = best_s
if "pipeline_bound_MBps" in out:
    out["large_vs_bound"] = best_mb / out["pipeline_bound_MBps"]
    out["small_vs_fsync"] = best_s / out["fsyncs_per_s"]
print("RESULT " + json.dumps(out))
