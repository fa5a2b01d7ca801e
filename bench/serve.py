#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/serve.py: the session server measured from its Python client, in
one run: create + exec `true` + destroy, cold and from the warm pool; exec
`true` in a live sandbox; a 10 MB file put and got; `sandboxvm run -- true`
for reference, and two floors: an HTTP round trip that does nothing
(GET /v1/info) and posix_spawn + wait of /bin/true without a sandbox; then
under load: 100 sandboxes alive at once and 10,000 execs
spread over them, with the server's descriptors, RSS and threads before and
after (from /proc).

    python3 bench/serve.py [--sbvm build/sandboxvm] [--quick] [--markdown]

Each server is started on a private socket in a temporary directory and
ended with SIGTERM; nothing is left behind. Times in ms: median, p10, p90.
Not a test: the figures go to docs/SESSIONS.md and docs/BENCHMARKS.md.
"""

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(TOP, "clients", "python"))
import sandboxvm  # noqa: E402


class Server:
    """A `sandboxvm serve` of the benchmark's own."""

    def __init__(self, sbvm, *args):
        self.dir = tempfile.mkdtemp(prefix="servebench-")
        self.socket = os.path.join(self.dir, "s.sock")
        self.proc = None
        r, w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sbvm, "serve", "--quiet", "--socket", self.socket,
                 "--state", os.path.join(self.dir, "state"), "--ready-fd", str(w)]
                + list(args),
                pass_fds=(w,))
            os.close(w)
            w = -1
            with os.fdopen(r, "rb") as f:
                r = -1
                if f.readline() != b"ready\n":
                    raise RuntimeError("the server did not start")
        except BaseException:
            for fd in (r, w):
                if fd >= 0:
                    os.close(fd)
            self.stop()
            raise
        self.client = sandboxvm.Client(self.socket)

    def stats(self):
        pid = self.proc.pid
        fds = len(os.listdir("/proc/%d/fd" % pid))
        rss = threads = 0
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("Threads:"):
                    threads = int(line.split()[1])
        return {"fds": fds, "rss_kib": rss, "threads": threads}

    def cpu_seconds(self):
        """The server's user + system CPU time so far, from /proc."""
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self):
        if getattr(self, "client", None):
            self.client.close()
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError("the server did not end within 60 s of its SIGTERM")
            if self.proc.returncode != 0:
                raise RuntimeError("the server ended with status %d" % self.proc.returncode)
        shutil.rmtree(self.dir, ignore_errors=True)


def timed(fn, n):
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(s, p):
    """The p-th percentile of sorted s (nearest rank)."""
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


ROWS = []
# Progress lines: stdout, or stderr when stdout gets the Markdown tables.
LOG = sys.stdout


def log(text):
    print(text, file=LOG, flush=True)


def row(name, samples, note=""):
    s = sorted(samples)
    n = len(s)
    med = (s[(n - 1) // 2] + s[n // 2]) / 2
    ROWS.append((name, med, pct(s, 10), pct(s, 90), n, note))
    log("%-52s %8.2f %8.2f %8.2f %6d  %s" % ROWS[-1])
    return med


def wait_pool(c, target):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if c.info()["warm"]["ready"] >= target:
            return
        # Not too often: the server refills after a quiet moment.
        time.sleep(0.025)
    raise RuntimeError("the pool did not refill")


def cold_section(a, n):
    srv = Server(a.sbvm)
    try:
        c = srv.client

        def cycle():
            sb = c.create()
            r = sb.run(["true"])
            assert r.ok, r
            sb.destroy()

        timed(c.info, 20)
        row("GET /v1/info (the HTTP and JSON round trip alone)", timed(c.info, 3 * n))
        timed(cycle, 5)  # the first ones find the caches cold
        row("create + exec true + destroy (cold)", timed(cycle, n))
        row("create + destroy (cold)", timed(lambda: c.create().destroy(), n))

        sb = c.create()
        timed(lambda: sb.run(["true"]), 10)
        row("exec true, collected (live sandbox)", timed(lambda: sb.run(["true"]), 3 * n))
        row("exec true, streamed (live sandbox)", timed(lambda: list(sb.stream(["true"])), 3 * n))
        blob = os.urandom(10 * 1024 * 1024)
        k = max(5, n // 5)
        names = iter(range(1 << 30))
        row("put a 10 MB file (raw bytes, new file)",
            timed(lambda: sb.write_file("/tmp/b%d" % next(names), blob, replace=False), k))
        sb.run(["sh", "-c", "rm -f /tmp/b*"])
        sb.write_file("/tmp/blob", blob)
        got = [b""]

        def get_raw():
            got[0] = b""  # one 10 MB buffer alive at a time, as the tar's
            got[0] = sb.read_file("/tmp/blob")

        row("get a 10 MB file (raw bytes)", timed(get_raw, k))
        assert got[0] == blob
        row("get a 10 MB file (as a tar)", timed(lambda: sb.get_tar("/tmp/blob"), k))
        sb.destroy()
    finally:
        srv.stop()


def warm_section(a, n):
    warm = 4
    srv = Server(a.sbvm, "--warm", str(warm))
    try:
        c = srv.client
        wait_pool(c, warm)

        def pooled():
            # The pool full again first: a refill in progress is not what
            # is measured here (the back-to-back row below is).
            wait_pool(c, warm)
            t = time.perf_counter()
            s = c.create()
            r = s.run(["true"])
            s.destroy()
            assert r.ok, r
            return (time.perf_counter() - t) * 1000

        for _ in range(3):
            pooled()
        row("create + exec true + destroy (warm pool)", [pooled() for _ in range(n)],
            "--warm %d, full at each start" % warm)
        row("create + exec true + destroy (pool, back to back)",
            timed(lambda: (lambda s: (s.run(["true"]), s.destroy()))(c.create()), n),
            "refills compete with the requests")
    finally:
        srv.stop()


def run_section(a, n):
    def spawn_true():
        pid = os.posix_spawn("/bin/true", ["true"], {})
        os.waitpid(pid, 0)

    timed(spawn_true, 10)
    row("posix_spawn + wait of /bin/true, no sandbox (the floor)", timed(spawn_true, 3 * n))

    def run_true():
        subprocess.run([a.sbvm, "run", "--quiet", "--", "true"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    timed(run_true, 3)
    row("sandboxvm run -- true (a process each)", timed(run_true, n))


def load_section(a, nsb, nexec):
    srv = Server(a.sbvm, "--max-sandboxes", str(nsb + 20))
    try:
        c = srv.client
        start = srv.stats()
        t = time.perf_counter()
        sbs = [c.create() for _ in range(nsb)]
        made = time.perf_counter() - t
        for s in sbs:
            s.run(["true"])
        before = srv.stats()
        # What the sandboxes cost the server while nothing runs in them.
        c0, t0 = srv.cpu_seconds(), time.perf_counter()
        time.sleep(5)
        idle = 100 * (srv.cpu_seconds() - c0) / (time.perf_counter() - t0)
        lat = []
        marks = []
        t = time.perf_counter()
        for i in range(nexec):
            t1 = time.perf_counter()
            r = sbs[i % nsb].run(["true"])
            lat.append((time.perf_counter() - t1) * 1000)
            assert r.ok, r
            if (i + 1) % (nexec // 4) == 0:
                marks.append((i + 1, srv.stats()))
        total = time.perf_counter() - t
        row("exec true, %d sandboxes alive, %d execs" % (nsb, nexec), lat,
            "%.1f s, %.0f execs/s" % (total, nexec / total))
        log("  %d sandboxes created in %.2f s" % (nsb, made))
        for s in sbs:
            s.destroy()
        end = srv.stats()
        log("  server at start:                 %s" % start)
        log("  server, %3d alive, before execs: %s" % (nsb, before))
        log("  server, %3d alive and idle 5 s:  %.1f %% of one CPU" % (nsb, idle))
        for k, st in marks:
            log("  server, %3d alive, %5d execs:   %s" % (nsb, k, st))
        log("  server, all destroyed:           %s" % end)
        return start, before, marks, end, idle
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sbvm", default=os.path.join(TOP, "build", "sandboxvm"))
    ap.add_argument("--quick", action="store_true",
                    help="fewer rounds; 20 sandboxes and 1,000 execs under load")
    ap.add_argument("--markdown", action="store_true",
                    help="the tables in Markdown on stdout (progress on stderr)")
    a = ap.parse_args()
    global LOG
    if a.markdown:
        LOG = sys.stderr
    n = 20 if a.quick else 100
    nsb, nexec = (20, 1000) if a.quick else (100, 10000)
    load0 = os.getloadavg()
    log("load average at start: %.2f %.2f %.2f" % load0)
    log("%-52s %8s %8s %8s %6s" % ("operation (ms)", "median", "p10", "p90", "n"))
    cold_section(a, n)
    warm_section(a, n)
    run_section(a, n // 2)
    stats = load_section(a, nsb, nexec)
    load1 = os.getloadavg()
    log("load average at end: %.2f %.2f %.2f" % load1)
    if a.markdown:
        print("Load average (1, 5, 15 min): %.2f %.2f %.2f at the start, %.2f %.2f %.2f at the end."
              % (load0 + load1))
        print()
        print("| operation | median ms | p10 | p90 | n | |")
        print("|---|---:|---:|---:|---:|---|")
        for name, med, p10, p90, k, note in ROWS:
            print("| %s | %.2f | %.2f | %.2f | %d | %s |" % (name, med, p10, p90, k, note))
        print()
        print("| server (/proc) | fds | RSS KiB | threads |")
        print("|---|---:|---:|---:|")
        start, before, marks, end, idle = stats
        lines = [("at start", start), ("%d alive, before the execs" % nsb, before)]
        lines += [("%d alive, after %d execs" % (nsb, k), st) for k, st in marks]
        lines.append(("all destroyed", end))
        for label, st in lines:
            print("| %s | %d | %d | %d |" % (label, st["fds"], st["rss_kib"], st["threads"]))
        print()
        print("With the %d sandboxes alive and idle for 5 s, the server used %.1f %% of one CPU."
              % (nsb, idle))
    return 0


if __name__ == "__main__":
    sys.exit(main())
