# SPDX-License-Identifier: MIT
"""The Python client against a real `sandboxvm serve` (started here, on a
socket in a private directory). SBVM names the binary (default: the build
tree's). Run: python3 -m unittest discover -s clients/python/tests"""

import http.server
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import sandboxvm  # noqa: E402

TOP = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SBVM = os.environ.get("SBVM") or os.path.join(TOP, "build", "sandboxvm")


class Server:
    """A server of our own, ended (SIGTERM) when done."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="clienttest-py-")
        self.socket = os.path.join(self.dir, "s.sock")
        r, w = os.pipe()
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen(
            [
                SBVM,
                "serve",
                "--socket",
                self.socket,
                "--state",
                os.path.join(self.dir, "state"),
                "--ready-fd",
                str(w),
            ]
            + list(args),
            pass_fds=(w,),
            stdout=self.log,
            stderr=self.log,
        )
        os.close(w)
        with os.fdopen(r, "rb") as f:
            line = f.readline()
        if line != b"ready\n":
            self.stop()
            raise RuntimeError("the server did not start: " + self.log_text())
        self.client = sandboxvm.Client(self.socket)

    def log_text(self):
        with open(os.path.join(self.dir, "log"), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def procs(sb):
    """The command lines of the processes alive in a sandbox."""
    r = sb.run("for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline; echo; done")
    return r.stdout.decode()


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = Server("--max-sandboxes", "8")
        cls.c = cls.srv.client

    @classmethod
    def tearDownClass(cls):
        cls.c.close()
        cls.srv.stop()

    def test_info_names_the_api_version(self):
        info = self.c.info()
        self.assertEqual(info["api_version"], 1)
        self.assertEqual(info["uid"], os.getuid())

    def test_run_collects_output_and_the_result(self):
        with self.c.create() as sb:
            r = sb.run(["sh", "-c", "echo out; echo err >&2; exit 3"])
            self.assertEqual(r.stdout, b"out\n")
            self.assertEqual(r.stderr, b"err\n")
            self.assertEqual(r.outcome, "exited")
            self.assertEqual(r.exit_code, 3)
            self.assertEqual(r.result["message"], "exited with code 3")
            # Bytes that are not UTF-8 come back as they were.
            r = sb.run("printf '\\377\\376ok'")
            self.assertEqual(r.stdout, b"\xff\xfeok")
            # stdin, text or bytes
            self.assertEqual(sb.run(["cat"], stdin="typed\n").stdout, b"typed\n")
            self.assertEqual(sb.run(["wc", "-c"], stdin=b"\x00" * 5000).stdout.strip(), b"5000")

    def test_stream_yields_output_as_it_comes(self):
        with self.c.create() as sb:
            t0 = time.monotonic()
            seen = []
            for ev in sb.stream("echo one; sleep 0.4; echo two >&2"):
                seen.append((ev.type, ev.data, time.monotonic() - t0))
            types = [s[0] for s in seen]
            self.assertEqual(types, ["start", "stdout", "stderr", "end"])
            self.assertEqual(seen[1][1], b"one\n")
            self.assertEqual(seen[2][1], b"two\n")
            # "one" arrived before the sleep ended, not with the rest.
            self.assertLess(seen[1][2] + 0.25, seen[2][2])

    def test_inspect_shows_what_runs_and_what_it_uses(self):
        with self.c.create() as sb:
            job = sb.start(["sh", "-c", "head -c 8000000 /dev/zero >/tmp/blob; exec sleep 100"])
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                d = sb.inspect()
                inv = d["inventory"]
                if any(p["argv"].startswith("sleep 100") for p in inv["processes"]):
                    break
                time.sleep(0.05)
            self.assertTrue(any(p["argv"].startswith("sleep 100") for p in inv["processes"]), inv)
            self.assertIn({"path": "/tmp/blob", "kind": "file", "size": 8000000}, inv["files"])
            self.assertGreater(inv["peak_memory_bytes"], 0)
            self.assertGreaterEqual(inv["cpu_user_us"] + inv["cpu_system_us"], 0)
            self.assertEqual(d["jobs"]["running"], 1)
            self.assertEqual(d["state"], "ready")
            job.cancel()

    def test_jobs_share_files_and_crashes_end_only_their_job(self):
        with self.c.create() as sb:
            sb.run("echo kept > /tmp/note")
            r = sb.run(["sh", "-c", "kill -SEGV $$"])
            self.assertEqual(r.outcome, "crashed")
            self.assertEqual(r.exit_status, 139)
            self.assertEqual(sb.run(["cat", "/tmp/note"]).stdout, b"kept\n")
            r = sb.run(["sbvm-no-such-program"])
            self.assertEqual(r.outcome, "not_found")

    def test_a_timeout_ends_the_whole_process_tree(self):
        with self.c.create() as sb:
            r = sb.run("sleep 100 & setsid sleep 101 & sleep 102", timeout=0.5)
            self.assertEqual(r.outcome, "limit")
            self.assertEqual(r.exit_status, 124)
            left = procs(sb)
            for s in ("sleep 100", "sleep 101", "sleep 102"):
                self.assertNotIn(s, left)

    def test_files_go_in_and_come_out(self):
        with self.c.create() as sb:
            sb.write_file("/tmp/a.txt", "hello")
            self.assertEqual(sb.read_file("/tmp/a.txt"), b"hello")
            sb.write_file("/tmp/a.txt", b"again")  # replaced
            self.assertEqual(sb.read_file("/tmp/a.txt"), b"again")
            with self.assertRaises(sandboxvm.SandboxvmError) as cm:
                sb.write_file("/tmp/a.txt", b"no", replace=False)
            self.assertEqual(cm.exception.status, 409)
            d = tempfile.mkdtemp()
            try:
                os.makedirs(os.path.join(d, "src", "sub"))
                with open(os.path.join(d, "src", "sub", "f"), "w") as f:
                    f.write("deep")
                os.symlink("/etc/passwd", os.path.join(d, "src", "link"))
                sb.put(os.path.join(d, "src"), "/tmp/work")
                self.assertEqual(sb.run(["cat", "/tmp/work/sub/f"]).stdout, b"deep")
                sb.run("echo made > /tmp/work/new; ln -s / /tmp/work/root")
                out = sb.get("/tmp/work", os.path.join(d, "back"))
                with open(os.path.join(out, "new")) as f:
                    self.assertEqual(f.read(), "made\n")
                # Links come back as links, never what they point at.
                self.assertTrue(os.path.islink(os.path.join(out, "root")))
                self.assertEqual(os.readlink(os.path.join(out, "link")), "/etc/passwd")
            finally:
                shutil.rmtree(d)
            with self.assertRaises(sandboxvm.SandboxvmError) as cm:
                sb.read_file("/tmp/no-such-file")
            self.assertEqual(cm.exception.status, 404)

    def test_a_hostile_tar_is_refused(self):
        with self.c.create() as sb:
            for name in ("../escape", "/abs/path", "a/../../b"):
                buf = io.BytesIO()
                with tarfile.open(fileobj=buf, mode="w") as t:
                    info = tarfile.TarInfo(name)
                    info.size = 1
                    t.addfile(info, io.BytesIO(b"x"))
                with self.assertRaises(sandboxvm.SandboxvmError) as cm:
                    sb.put_tar(buf.getvalue(), "/tmp")
                self.assertEqual(cm.exception.status, 400, name)
            # A link, then a file through it: refused, nothing written.
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as t:
                link = tarfile.TarInfo("l")
                link.type = tarfile.SYMTYPE
                link.linkname = "/etc"
                t.addfile(link)
                info = tarfile.TarInfo("l/evil")
                info.size = 1
                t.addfile(info, io.BytesIO(b"x"))
            with self.assertRaises(sandboxvm.SandboxvmError) as cm:
                sb.put_tar(buf.getvalue(), "/tmp/t")
            self.assertEqual(cm.exception.status, 400)
            self.assertFalse(os.path.exists("/etc/evil"))

    def test_a_started_job_takes_stdin_signals_and_cancel(self):
        with self.c.create() as sb:
            job = sb.start(["cat"], stdin_open=True)
            job.write("line 1\n")
            job.write(b"line 2\n", eof=True)
            res = job.wait()
            self.assertEqual(res["outcome"], "exited")
            self.assertEqual(res["stdout"]["head"], "line 1\nline 2\n")
            job = sb.start(["sleep", "100"])
            job.signal("TERM")
            res = job.wait()
            self.assertEqual(res["outcome"], "killed")
            self.assertEqual(res["signal"]["name"], "SIGTERM")
            job = sb.start("sleep 200 & sleep 201")
            job.cancel()
            self.assertEqual(job.wait()["outcome"], "killed")
            self.assertNotIn("sleep 20", procs(sb))

    def test_a_client_that_goes_away_ends_its_job(self):
        with self.c.create() as sb:
            gen = sb.stream("echo started; sleep 300")
            for ev in gen:
                if ev.type == "stdout":
                    break
            gen.close()  # the connection closes
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                jobs = sb.jobs()
                if jobs[0]["state"] == "done":
                    break
                time.sleep(0.05)
            self.assertEqual(jobs[0]["state"], "done")
            self.assertEqual(jobs[0]["outcome"], "killed")
            # ...unless it asked to be kept.
            gen = sb.stream("echo started; sleep 301", on_disconnect="keep")
            next(gen)
            next(gen)
            gen.close()
            time.sleep(0.3)
            self.assertEqual(sb.jobs()[-1]["state"], "running")

    def test_snapshots_keep_files_and_restore_many_times(self):
        with self.c.create(settings={"env": {"GREETING": "hi"}}) as sb:
            sb.run("mkdir -p /tmp/proj && echo state > /tmp/proj/f")
            snap = sb.snapshot("py-snap")
            self.assertFalse(snap["processes_saved"])
        try:
            for _ in range(2):
                with self.c.restore("py-snap") as sb2:
                    self.assertEqual(sb2.run(["cat", "/tmp/proj/f"]).stdout, b"state\n")
                    self.assertEqual(sb2.run("echo $GREETING").stdout, b"hi\n")
                    sb2.run("echo changed > /tmp/proj/f")
            self.assertIn("py-snap", [s["name"] for s in self.c.snapshots()])
            with self.assertRaises(sandboxvm.SandboxvmError) as cm:
                with self.c.create() as sb3:
                    sb3.snapshot("py-snap")
            self.assertEqual(cm.exception.status, 409)
        finally:
            self.c.delete_snapshot("py-snap")
        with self.assertRaises(sandboxvm.SandboxvmError) as cm:
            self.c.restore("py-snap")
        self.assertEqual(cm.exception.status, 404)

    def test_refusals_are_4xx_with_a_message(self):
        with self.assertRaises(sandboxvm.SandboxvmError) as cm:
            self.c.sandbox("sb-000000000000")
        self.assertEqual(cm.exception.status, 404)
        with self.assertRaises(sandboxvm.SandboxvmError) as cm:
            self.c.request("POST", "/sandboxes", b"{not json", {"Content-Type": "application/json"})
        self.assertEqual(cm.exception.status, 400)
        self.assertIn("not JSON", cm.exception.message)
        with self.assertRaises(sandboxvm.SandboxvmError) as cm:
            self.c.create(settings={"keep_env": True})
        self.assertEqual(cm.exception.status, 403)
        with self.assertRaises(sandboxvm.SandboxvmError) as cm:
            self.c.create(settings={"limits": {"memory": "lots"}})
        self.assertEqual(cm.exception.status, 400)
        self.assertIn("limits.memory", cm.exception.message)
        sb = self.c.create()
        sb.destroy()
        with self.assertRaises(sandboxvm.SandboxvmError) as cm:
            sb.run(["true"])
        self.assertEqual(cm.exception.status, 409)
        self.assertEqual(sb.inspect()["end_reason"], "destroyed")

    def test_idle_timeout_ends_a_sandbox_and_says_so(self):
        sb = self.c.create(idle_timeout=0.3)
        time.sleep(1.0)
        d = sb.inspect()
        self.assertEqual(d["state"], "ended")
        self.assertEqual(d["end_reason"], "idle_timeout")

    def test_the_server_limits_its_sandboxes(self):
        made = []
        try:
            with self.assertRaises(sandboxvm.SandboxvmError) as cm:
                for _ in range(20):
                    made.append(self.c.create())
            self.assertEqual(cm.exception.status, 429)
            self.assertEqual(len(made) + len([s for s in self.c.sandboxes() if s not in made]) >= 1, True)
        finally:
            for sb in made:
                sb.destroy()


class ExampleTest(unittest.TestCase):
    def test_the_agent_example_runs_to_its_end(self):
        srv = Server()
        try:
            p = subprocess.run(
                [sys.executable, os.path.join(HERE, "..", "examples", "agent.py")],
                env=dict(os.environ, SANDBOXVM_SOCKET=srv.socket),
                capture_output=True,
                timeout=120,
            )
            out = p.stdout.decode()
            self.assertEqual(p.returncode, 0, out + p.stderr.decode())
            self.assertIn("step 9/9: dog", out)
            self.assertIn("result: {'words': 9, 'longest': 'quick'}", out)
            self.assertIn("restored:", out)
            self.assertNotIn("demo-token", out)
        finally:
            srv.client.close()
            srv.stop()


class OpenAPITest(unittest.TestCase):
    """docs/openapi.json names the routes the server has, and only those."""

    def test_every_documented_route_is_served(self):
        import json

        with open(os.path.join(TOP, "docs", "openapi.json")) as f:
            doc = json.load(f)
        srv = Server()
        try:
            c = srv.client
            for path, item in doc["paths"].items():
                for method in ("get", "post", "put", "delete"):
                    if method not in item:
                        continue
                    p = path[len("/v1"):].format(id="sb-000000000000", job="j1", name="nosnap")
                    try:
                        c.request(method.upper(), p, b"{}" if method in ("post", "put") else None)
                    except sandboxvm.SandboxvmError as e:
                        self.assertNotEqual(e.status, 405, (method, path))
                        self.assertNotIn("no such path", e.message, (method, path))
            # And a route it does not document is not served.
            with self.assertRaises(sandboxvm.SandboxvmError) as cm:
                c.request("GET", "/sandboxes/sb-000000000000/secrets")
            self.assertIn("no such path", cm.exception.message)
        finally:
            srv.client.close()
            srv.stop()


class NetworkTest(unittest.TestCase):
    """An allowlisted server on loopback, and a secret the guest never sees."""

    def test_a_secret_reaches_only_its_host_and_never_the_guest(self):
        got = {}

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                got["auth"] = self.headers.get("Authorization")
                body = b"your token was " + (got["auth"] or "").encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        httpd = http.server.HTTPServer(("127.0.0.1", 0), H)
        port = httpd.server_address[1]
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        srv = Server()
        try:
            settings = {
                "network": {
                    "mode": "allow",
                    "allow": ["127.0.0.1:%d" % port],
                    "allow_private": True,
                    "secrets": [{"name": "TOKEN", "value": "s3cret-value", "host": "127.0.0.1"}],
                }
            }
            with srv.client.create(settings=settings) as sb:
                r = sb.run(
                    'echo "env: $TOKEN"; curl -s -H "Authorization: Bearer $TOKEN" '
                    "http://127.0.0.1:%d/" % port
                )
                self.assertEqual(got.get("auth"), "Bearer s3cret-value")
                self.assertNotIn(b"s3cret-value", r.stdout)
                # What the server keeps and shows has no secret value.
                d = sb.inspect()
                self.assertNotIn("s3cret-value", repr(d))
                # The connections so far, while it lives.
                attempts = d["network"]["attempts"]
                self.assertEqual(len(attempts), 1, attempts)
                self.assertTrue(attempts[0]["allowed"])
                self.assertEqual(attempts[0]["port"], port)
                self.assertEqual(attempts[0]["secrets_injected"], 1)
        finally:
            srv.client.close()
            srv.stop()
            httpd.shutdown()
            httpd.server_close()


if __name__ == "__main__":
    unittest.main()
