#!/usr/bin/env python3
"""Check-in load over HTTPS against a running custosd.

checkin_client.py URL CAFILE USER PASSWORD CLIENTS PER_CLIENT SIZE
Each client keeps one TLS connection and checks in PER_CLIENT records with one
file of SIZE random bytes each. Prints check-ins/s and MB/s.
"""
import http.client
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

url, cafile, user, password = sys.argv[1:5]
clients, per_client, size = (int(x) for x in sys.argv[5:8])
u = urllib.parse.urlparse(url)
ctx = ssl.create_default_context(cafile=cafile)


def connect():
    return http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=600)


def sign_in():
    c = connect()
    c.request("POST", "/v1/session", json.dumps({"username": user, "password": password}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit(f"sign-in failed: {r.status} {body!r}")
    return json.loads(body)["token"]


token = sign_in()
boundary = "custosbenchboundary7d1f"
meta = json.dumps({"type": "general", "title": "bench", "department": "sales",
                   "classification": "internal"})
payload = os.urandom(size)
head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n"
        f"Content-Type: application/json\r\n\r\n{meta}\r\n--{boundary}\r\n"
        f"Content-Disposition: form-data; name=\"file\"; filename=\"f.bin\"\r\n"
        f"Content-Type: application/octet-stream\r\n\r\n").encode()
tail = f"\r\n--{boundary}--\r\n".encode()
failures = []


def client():
    c = connect()
    for _ in range(per_client):
        body = head + payload + tail
        c.request("POST", "/v1/records", body,
                  {"Authorization": f"Bearer {token}",
                   "Content-Type": f"multipart/form-data; boundary={boundary}"})
        r = c.getresponse()
        r.read()
        if r.status != 201:
            failures.append(r.status)


start = time.monotonic()
threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start
n = clients * per_client
print(f"{n} check-ins of {size} bytes with {clients} clients: {n / elapsed:.1f} check-ins/s, "
      f"{n * size / elapsed / 1e6:.1f} MB/s, {len(failures)} failures")
sys.exit(1 if failures else 0)
