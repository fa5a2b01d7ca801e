#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""https.py URL N new|keep: N sequential GETs of URL over HTTPS, through the
proxy in HTTPS_PROXY when set (a CONNECT tunnel, as clients make one); prints
the median ms of one. new: each on a new connection (TCP, CONNECT and TLS
handshakes included); keep: all on one kept-alive connection (the first,
which opens it, not counted). Trusts what the default context trusts
(SSL_CERT_FILE in a sandbox)."""
import http.client
import os
import ssl
import statistics
import sys
import time
import urllib.parse

url, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
u = urllib.parse.urlsplit(url)
proxy = os.environ.get("HTTPS_PROXY") or os.environ.get("https_proxy")
ctx = ssl.create_default_context()


def connect():
    if proxy:
        p = urllib.parse.urlsplit(proxy)
        c = http.client.HTTPSConnection(p.hostname, p.port, context=ctx)
        c.set_tunnel(u.hostname, u.port)
    else:
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
    return c


def get(c):
    c.request("GET", u.path)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"https.py: {url}: {r.status}")


times = []
if mode == "new":
    for _ in range(n):
        t = time.perf_counter()
        c = connect()
        get(c)
        c.close()
        times.append((time.perf_counter() - t) * 1000)
else:
    c = connect()
    get(c)
    for _ in range(n):
        t = time.perf_counter()
        get(c)
        times.append((time.perf_counter() - t) * 1000)
    c.close()
print(f"{statistics.median(times):.3f}")
