#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""latency.py URL N: N sequential GETs of URL, each on a new connection
(through the proxy in HTTP_PROXY when set); prints the median ms of one."""
import statistics
import sys
import time
import urllib.request

url, n = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(n):
    t = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        r.read()
    times.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(times):.3f}")
