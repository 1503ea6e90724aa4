#!/usr/bin/env python3
"""Only the custos section's content reads and catalogue GETs, and the nginx
peer on the same files and JSON, with bench/run.py's own code: for before
and after comparisons of the read path without a whole `make bench`.

  bench/reads_bench.py BINDIR [--dur S] [--files N] [--no-nginx]
                       [--profile S] [--profile-gets S]

Checks in N (300) 64 KiB files with bench/checkin.lua, then runs wrk -c64
for S seconds on their content, on their records, and (unless --no-nginx)
nginx on the same files and on one record's JSON. Prints one line
"RESULT {...}": requests/s, p99, custosd's CPU time per request (from
/proc, steadier than the rates on a shared machine) and the ratios.
--profile S / --profile-gets S: first an extra read (GET) phase of S
seconds, custosd's pid written to $WORK/pid for perf or strace.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
import types
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R
import corpus as corpus_mod

ap = argparse.ArgumentParser()
ap.add_argument("bin")
ap.add_argument("--dur", type=int, default=10)
ap.add_argument("--files", type=int, default=300)
ap.add_argument("--profile", type=int, default=0, help="an extra read phase of this many s first")
ap.add_argument("--profile-gets", type=int, default=0)
ap.add_argument("--no-nginx", action="store_true")
a = ap.parse_args()

b = R.Bench(types.SimpleNamespace(bin=a.bin, quick=True, content_scale=None,
                                  content_postgresql=False, work="/var/tmp"))
b.work = tempfile.mkdtemp(prefix="custos-reads-", dir="/var/tmp")
os.chmod(b.work, 0o700)
res = {}
try:
    root = b.path("corpus"); os.makedirs(root)
    small = corpus_mod._write_set(root, "small", a.files, 64 << 10, corpus_mod.SEED)
    c = R.Custos(b, "custos"); c.init(); c.start(); c.token()
    s, recs = c.check_in_wrk(small["files"], 16, 2, "small")
    res["checkin_per_s"] = s["per_s"]
    rpaths = [f"/v1/records/{r['id']}/versions/1/files/{r['file']}" for r in recs]
    gpaths = [f"/v1/records/{r['id']}" for r in recs]
    if a.profile:
        open(b.path("pid"), "w").write(str(c.proc.pid))
        R.log(f"profile phase, reads, {a.profile} s, custosd pid {c.proc.pid} (in {b.path('pid')})")
        x = b.wrk(c.url, rpaths, 64, a.profile, token=c.token(), name="prof-reads")
        R.log(f"  profile reads/s {x['req_per_s']:.0f}")
    if a.profile_gets:
        open(b.path("pid"), "w").write(str(c.proc.pid))
        R.log(f"profile phase, GETs, {a.profile_gets} s, custosd pid {c.proc.pid} (in {b.path('pid')})")
        x = b.wrk(c.url, gpaths, 64, a.profile_gets, token=c.token(), name="prof-gets")
        R.log(f"  profile gets/s {x['req_per_s']:.0f}")
    def cpu(pid):
        f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    c0 = cpu(c.proc.pid)
    r = b.wrk(c.url, rpaths, 64, a.dur, token=c.token(), name="custos-reads")
    r["cpu_us_per_req"] = (cpu(c.proc.pid) - c0) * 1e6 / r["requests"]
    res["reads"] = r
    st, body = c.get(gpaths[0])
    assert st == 200, st
    c0 = cpu(c.proc.pid)
    g = b.wrk(c.url, gpaths, 64, a.dur, token=c.token(), name="custos-gets")
    g["cpu_us_per_req"] = (cpu(c.proc.pid) - c0) * 1e6 / g["requests"]
    res["gets"] = g
    c.stop()
    if not a.no_nginx:
        with open(os.path.join(root, "record.json"), "wb") as f:
            f.write(body)
        proc, url, _ = R.start_nginx(b, "nginx", root)
        res["nginx_files"] = b.wrk(url, ["/" + p for p in small["files"]], 64, a.dur, name="nginx-files")
        res["nginx_json"] = b.wrk(url, ["/record.json"], 64, a.dur, name="nginx-json")
        b.stop_server(proc)
    res["json_bytes"] = len(body)
finally:
    b.stop_all()
    shutil.rmtree(b.work, ignore_errors=True)
def f(k): return res[k]["req_per_s"] if k in res else None
out = {"reads_per_s": f("reads"), "gets_per_s": f("gets"), "nginx_files_per_s": f("nginx_files"),
       "nginx_json_per_s": f("nginx_json"), "non2xx": [res[k]["non_2xx"] for k in ("reads","gets")],
       "reads_p99_ms": res["reads"]["p99_ms"], "gets_p99_ms": res["gets"]["p99_ms"],
       "checkin_per_s": res["checkin_per_s"],
       "reads_cpu_us": res["reads"]["cpu_us_per_req"], "gets_cpu_us": res["gets"]["cpu_us_per_req"], "json_bytes": res["json_bytes"]}
if out["nginx_files_per_s"]:
    out["reads_ratio"] = out["reads_per_s"] / out["nginx_files_per_s"]
    out["gets_ratio"] = out["gets_per_s"] / out["nginx_json_per_s"]
print("RESULT " + json.dumps(out))
