#!/usr/bin/env python3
"""Statements per 64 KiB check-in on a throwaway PostgreSQL with pg_stat_statements,
plus custosd's send()s and recv()s to it (strace -c) and CPU per check-in, the
background work the check-ins cause (search index, texts) included.
  python3 bench/pg_statements.py BINDIR [--files N] [--clients C] [--strace]
Uses bench/run.py's own Custos, ThrowawayPostgres and wrk check-ins."""
import argparse, os, sys, tempfile, types, subprocess, json, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as R
import corpus as corpus_mod
ap = argparse.ArgumentParser()
ap.add_argument("bin"); ap.add_argument("--files", type=int, default=300)
ap.add_argument("--clients", type=int, default=16); ap.add_argument("--strace", action="store_true")
ap.add_argument("--top", type=int, default=40)
a = ap.parse_args()
b = R.Bench(types.SimpleNamespace(bin=a.bin, quick=True, content_scale=None,
                                  content_postgresql=False, work="/var/tmp"))
b.work = tempfile.mkdtemp(prefix="custos-pgcount-", dir="/var/tmp"); os.chmod(b.work, 0o700)
pg = R.ThrowawayPostgres(b)
def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
try:
    root = b.path("corpus"); os.makedirs(root)
    small = corpus_mod._write_set(root, "small", a.files, 64 << 10, corpus_mod.SEED)
    pg.start()
    pg.psql("postgres", "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    subprocess.run(["runuser", "-u", "postgres", "--", os.path.join(R.PG_BIN, "pg_ctl"), "-D",
           os.path.join(pg.dir, "data"), "-l", os.path.join(pg.dir, "server.log"), "-w", "restart"], timeout=120, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pg.psql("postgres", "CREATE DATABASE custos_bench")
    pg.psql("custos_bench", "CREATE EXTENSION pg_stat_statements")
    c = R.Custos(b, "node1"); c.init("--backend", "postgresql", "--dsn", pg.dsn("custos_bench"))
    c.start(); c.token()
    # warm-up, then reset
    c.wrk_check_ins(small["files"][:20], 4, 1, "warm")
    time.sleep(1)
    pg.psql("custos_bench", "SELECT pg_stat_statements_reset()")
    db0 = pg.db_stats("custos_bench")
    st = None
    if a.strace:
        st = subprocess.Popen(["strace", "-c", "-f", "-e", "trace=sendto,recvfrom,poll", "-o", b.path("strace.txt"), "-p", str(c.proc.pid)])
        time.sleep(1)
    c0, p0 = cpu(c.proc.pid), None
    pgpids = [int(x) for x in subprocess.run(["pgrep", "-P", str(pg.postmaster_pid())], capture_output=True, text=True).stdout.split()]
    def pgcpu():
        t = 0
        for p in [pg.postmaster_pid()] + pgpids:
            try: t += cpu(p)
            except OSError: pass
        return t
    p0 = pgcpu()
    s, marker, _ = c.wrk_check_ins(small["files"][20:], a.clients, 2, "run")
    n = s["count"]
    c1, p1 = cpu(c.proc.pid), pgcpu()
    # let the background work of these check-ins (search index, texts) finish
    q = "SELECT sum(calls) FROM pg_stat_statements"
    last = None
    for _ in range(60):
        now = pg.psql("custos_bench", q)
        if now == last: break
        last = now; time.sleep(2)
    c2, p2 = cpu(c.proc.pid), pgcpu()
    print("settled: custosd_cpu_ms=%.3f pg_cpu_ms=%.3f per check-in, background included" % ((c2-c0)*1e3/n, (p2-p0)*1e3/n))
    if st:
        st.send_signal(2); st.wait()
    time.sleep(1)
    db1 = pg.db_stats("custos_bench")
    print("RESULT per_s=%.1f count=%d custosd_cpu_ms=%.3f pg_cpu_ms(backends seen at start)=%.3f" % (s["per_s"], n, (c1-c0)*1e3/n, (p1-p0)*1e3/n))
    print("db per check-in:", {k: round(v, 2) for k, v in R.per_op(db0, db1, n).items()})
    rows = pg.psql("custos_bench", "SELECT calls, rows, round(total_exec_time::numeric,1), regexp_replace(left(query, 110), '\\s+', ' ', 'g') FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC")
    total = 0
    lines = rows.splitlines()
    for l in lines:
        total += int(l.split("|")[0])
    print("statements per check-in: %.2f (%d distinct)" % (total / n, len(lines)))
    for l in lines[:a.top]:
        calls = int(l.split("|")[0])
        print("%6.2f  %s" % (calls / n, l))
    if st:
        print(open(b.path("strace.txt")).read())
    c.stop()
finally:
    b.stop_all()
    pg.stop()
    import shutil; shutil.rmtree(b.work, ignore_errors=True)
