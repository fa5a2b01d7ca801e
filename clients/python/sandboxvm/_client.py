# SPDX-License-Identifier: MIT
"""The client: HTTP/1.1 over a unix socket with http.client, JSON bodies,
NDJSON event streams, tar streams for trees (tarfile)."""

import base64
import http.client
import io
import json
import os
import socket
import tarfile
import urllib.parse

API = "/v1"


class SandboxvmError(Exception):
    """A refusal or failure the server answered with (status, message)."""

    def __init__(self, status, message):
        super().__init__("%s: %s" % (status, message))
        self.status = status
        self.message = message


def default_socket():
    """$SANDBOXVM_SOCKET, else where `sandboxvm serve` puts it by default."""
    s = os.environ.get("SANDBOXVM_SOCKET")
    if s:
        return s
    run = os.environ.get("XDG_RUNTIME_DIR")
    if run:
        return os.path.join(run, "sandboxvm.sock")
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "sandboxvm", "serve.sock")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("sandboxvm", timeout=timeout)
        self._path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            s.settimeout(self.timeout)
        s.connect(self._path)
        self.sock = s


def _bytes_of(obj, key):
    """A field that is text when it was UTF-8, else base64 (key + '_b64')."""
    if key in obj and obj[key] is not None:
        return obj[key].encode("utf-8")
    b = obj.get(key + "_b64")
    return base64.b64decode(b) if b is not None else b""


class Event:
    """One event of a job: type is 'start', 'stdout', 'stderr' or 'end'."""

    __slots__ = ("type", "data", "job", "result", "raw")

    def __init__(self, raw):
        self.raw = raw
        self.type = raw.get("type")
        self.job = raw.get("job")
        self.data = _bytes_of(raw, "data") if self.type in ("stdout", "stderr") else None
        self.result = raw.get("result") if self.type == "end" else None

    def __repr__(self):
        return "Event(%r, %r)" % (self.type, self.data if self.data is not None else self.result)


class ExecResult:
    """A finished job: its output and its result (docs/REPORT-JSON.md, "A guest")."""

    def __init__(self, job, stdout, stderr, result, sandbox_ended=None):
        self.job = job
        self.stdout = stdout
        self.stderr = stderr
        self.result = result or {}
        self.sandbox_ended = sandbox_ended

    @property
    def outcome(self):
        return self.result.get("outcome")

    @property
    def exit_status(self):
        return self.result.get("exit_status")

    @property
    def exit_code(self):
        return self.result.get("exit_code")

    @property
    def message(self):
        return self.result.get("message")

    @property
    def ok(self):
        return self.outcome == "exited" and self.exit_code == 0

    def __repr__(self):
        return "ExecResult(%s, %r)" % (self.job, self.message)


class Client:
    """A connection to one `sandboxvm serve`.

    socket: the unix socket (default: default_socket()); or url="http://HOST:PORT"
    with token=... for a server that listens on TCP (serve --tcp --token-file).
    """

    def __init__(self, socket_path=None, url=None, token=None, timeout=300.0):
        self.timeout = timeout
        self.token = token
        if url:
            u = urllib.parse.urlsplit(url)
            self._tcp = (u.hostname, u.port or 80)
            self.socket_path = None
        else:
            self._tcp = None
            self.socket_path = socket_path or default_socket()
        self._conn = None

    # ---- plumbing ---------------------------------------------------------

    def _new_conn(self, timeout=None):
        t = self.timeout if timeout is None else timeout
        if self._tcp:
            return http.client.HTTPConnection(self._tcp[0], self._tcp[1], timeout=t)
        return _UnixConnection(self.socket_path, t)

    def _headers(self, extra=None):
        h = {"Host": "sandboxvm"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if extra:
            h.update(extra)
        return h

    def _send(self, conn, method, path, body, headers):
        conn.request(method, API + path, body=body, headers=self._headers(headers))
        return conn.getresponse()

    def request(self, method, path, body=None, headers=None, raw=False):
        """One request on the kept connection; JSON in and out (raw: bytes out)."""
        if body is not None and not isinstance(body, (bytes, bytearray)) and not hasattr(
            body, "read"
        ):
            body = json.dumps(body).encode("utf-8")
            headers = dict(headers or {}, **{"Content-Type": "application/json"})
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = self._new_conn()
            try:
                resp = self._send(self._conn, method, path, body, headers)
                data = resp.read()
                break
            except (http.client.HTTPException, ConnectionError, BrokenPipeError) as e:
                # The server closes an idle kept connection: once more, anew.
                self._conn.close()
                self._conn = None
                if attempt or hasattr(body, "read"):
                    raise SandboxvmError(0, "connection: %s" % e) from e
        if resp.getheader("Connection", "").lower() == "close":
            self._conn.close()
            self._conn = None
        if resp.status >= 400:
            raise _error(resp.status, data)
        if raw:
            return data
        return json.loads(data) if data else None

    def stream_request(self, method, path, body=None):
        """A request whose answer is NDJSON: yields each event as a dict.
        A connection of its own, closed when the stream is (closing it
        early ends the job, unless it was started with on_disconnect=keep)."""
        conn = self._new_conn(timeout=None)
        try:
            data = json.dumps(body).encode("utf-8") if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            resp = self._send(conn, method, path, data, headers)
            if resp.status >= 400:
                raise _error(resp.status, resp.read())
            while True:
                line = resp.readline()
                if not line:
                    break
                yield json.loads(line)
        finally:
            conn.close()

    def close(self):
        if self._conn:
            self._conn.close()
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- the API ----------------------------------------------------------

    def info(self):
        return self.request("GET", "/info")

    def create(
        self,
        settings=None,
        persistent=False,
        idle_timeout=None,
        max_lifetime=None,
        name=None,
    ):
        """A new sandbox. settings: the fields of a profile (docs/API.md);
        without settings (and not persistent) it may come from the warm pool."""
        body = {}
        if settings is not None:
            body["settings"] = settings
        if persistent:
            body["persistent"] = True
        if idle_timeout is not None:
            body["idle_timeout"] = idle_timeout
        if max_lifetime is not None:
            body["max_lifetime"] = max_lifetime
        if name is not None:
            body["name"] = name
        return Sandbox(self, self.request("POST", "/sandboxes", body))

    def restore(self, snapshot, secrets=None, idle_timeout=None, max_lifetime=None, name=None):
        """A new sandbox from a snapshot (its files and settings; secrets
        are not kept in snapshots: give them again)."""
        body = {"snapshot": snapshot}
        if secrets:
            body["secrets"] = secrets
        if idle_timeout is not None:
            body["idle_timeout"] = idle_timeout
        if max_lifetime is not None:
            body["max_lifetime"] = max_lifetime
        if name is not None:
            body["name"] = name
        return Sandbox(self, self.request("POST", "/sandboxes", body))

    def sandboxes(self):
        return [Sandbox(self, d) for d in self.request("GET", "/sandboxes")["sandboxes"]]

    def sandbox(self, sandbox_id):
        return Sandbox(self, self.request("GET", "/sandboxes/" + sandbox_id))

    def snapshots(self):
        return self.request("GET", "/snapshots")["snapshots"]

    def snapshot_info(self, name):
        return self.request("GET", "/snapshots/" + name)

    def delete_snapshot(self, name):
        return self.request("DELETE", "/snapshots/" + name)


def _safe_extract(t, dest):
    """The sandbox's files are the guest's: nothing may land outside dest,
    and nothing is written through a link (tarfile's "tar" filter where
    Python has it: links are kept as links, absolute ones included)."""
    if hasattr(tarfile, "tar_filter"):
        t.extractall(dest, filter="tar")
        return
    root = os.path.realpath(dest)
    for m in t.getmembers():
        target = os.path.realpath(os.path.join(root, m.name))
        if not (target == root or target.startswith(root + os.sep)):
            raise SandboxvmError(0, "tar entry outside the destination: %r" % m.name)
        if not (m.isfile() or m.isdir() or m.issym()):
            raise SandboxvmError(0, "tar entry of an unexpected kind: %r" % m.name)
        # A link is kept as a link; no later entry may pass through one (below).
        m.mode &= 0o777
    for m in t.getmembers():
        parent = os.path.dirname(os.path.join(root, m.name))
        p = root
        for part in os.path.relpath(parent, root).split(os.sep):
            if part in ("", "."):
                continue
            p = os.path.join(p, part)
            if os.path.islink(p):
                raise SandboxvmError(0, "tar entry through a link: %r" % m.name)
        t.extract(m, root, set_attrs=m.isfile() or m.isdir())


def _error(status, data):
    try:
        msg = json.loads(data)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        msg = data.decode("utf-8", "replace")
    return SandboxvmError(status, msg)


def _exec_body(cmd, env, cwd, stdin, timeout, terminal, output_limit, name, extra):
    body = {}
    if isinstance(cmd, str):
        body["shell"] = cmd
    else:
        body["argv"] = list(cmd)
    if env:
        body["env"] = env
    if cwd:
        body["cwd"] = cwd
    if stdin is not None:
        if isinstance(stdin, str):
            body["stdin"] = stdin
        else:
            body["stdin_b64"] = base64.b64encode(bytes(stdin)).decode("ascii")
    if timeout is not None:
        body["timeout"] = timeout
    if terminal:
        body["terminal"] = terminal if isinstance(terminal, dict) else True
    if output_limit is not None:
        body["output_limit"] = output_limit
    if name:
        body["name"] = name
    body.update(extra)
    return body


class Sandbox:
    """A sandbox of the server. Use as a context manager to destroy it."""

    def __init__(self, client, desc):
        self.client = client
        self.id = desc["id"]
        self.desc = desc

    def __repr__(self):
        return "Sandbox(%s)" % self.id

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        try:
            self.destroy()
        except SandboxvmError:
            pass

    def _path(self, rest=""):
        return "/sandboxes/" + self.id + rest

    def inspect(self):
        """State, settings, the live inventory (processes, files), network attempts."""
        self.desc = self.client.request("GET", self._path())
        return self.desc

    def destroy(self):
        """Ends it; its own result (what it left, why it ended)."""
        self.desc = self.client.request("DELETE", self._path())
        return self.desc

    # ---- exec --------------------------------------------------------------

    def run(
        self,
        cmd,
        env=None,
        cwd=None,
        stdin=None,
        timeout=None,
        output_limit=None,
        name=None,
    ):
        """Runs cmd (argv list, or a shell string) to its end: an ExecResult."""
        body = _exec_body(cmd, env, cwd, stdin, timeout, None, output_limit, name, {})
        body["stream"] = False
        d = self.client.request("POST", self._path("/exec"), body)
        return ExecResult(
            d["job"],
            _bytes_of(d, "stdout"),
            _bytes_of(d, "stderr"),
            d.get("result"),
            d.get("sandbox_ended"),
        )

    def stream(
        self,
        cmd,
        env=None,
        cwd=None,
        stdin=None,
        timeout=None,
        terminal=None,
        output_limit=None,
        name=None,
        on_disconnect="kill",
    ):
        """Runs cmd and yields its Events as they come, the 'end' last."""
        body = _exec_body(
            cmd,
            env,
            cwd,
            stdin,
            timeout,
            terminal,
            output_limit,
            name,
            {"on_disconnect": on_disconnect},
        )
        for raw in self.client.stream_request("POST", self._path("/exec"), body):
            yield Event(raw)

    def start(
        self,
        cmd,
        env=None,
        cwd=None,
        stdin=None,
        stdin_open=False,
        timeout=None,
        terminal=None,
        output_limit=None,
        name=None,
    ):
        """Starts cmd and returns at once: a Job (its events with job.events())."""
        body = _exec_body(cmd, env, cwd, stdin, timeout, terminal, output_limit, name, {})
        body["detach"] = True
        if stdin_open:
            body["stdin_open"] = True
        d = self.client.request("POST", self._path("/exec"), body)
        return Job(self, d["id"])

    def jobs(self):
        return self.client.request("GET", self._path("/jobs"))["jobs"]

    # ---- files ---------------------------------------------------------------

    def write_file(self, path, data, replace=True):
        """One file (bytes or str) at path in the sandbox."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        q = urllib.parse.urlencode({"path": path, "replace": "1" if replace else "0"})
        return self.client.request(
            "PUT",
            self._path("/files?" + q),
            body=bytes(data),
            headers={"Content-Type": "application/octet-stream"},
        )

    def read_file(self, path):
        """One regular file's bytes."""
        q = urllib.parse.urlencode({"path": path, "format": "raw"})
        return self.client.request("GET", self._path("/files?" + q), raw=True)

    def put(self, local, path, replace=False):
        """A local file or directory tree to path in the sandbox (as a tar).
        A directory's contents land in path (made if missing)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            if os.path.isdir(local):
                for entry in sorted(os.listdir(local)):
                    t.add(os.path.join(local, entry), arcname=entry)
            else:
                t.add(local, arcname=os.path.basename(path))
                path = os.path.dirname(path) or "/"
        q = urllib.parse.urlencode({"path": path, "replace": "1" if replace else "0"})
        return self.client.request(
            "PUT",
            self._path("/files?" + q),
            body=buf.getvalue(),
            headers={"Content-Type": "application/x-tar"},
        )

    def put_tar(self, tar_bytes, path, replace=False):
        q = urllib.parse.urlencode({"path": path, "replace": "1" if replace else "0"})
        return self.client.request(
            "PUT",
            self._path("/files?" + q),
            body=tar_bytes,
            headers={"Content-Type": "application/x-tar"},
        )

    def get_tar(self, path):
        """path (a file or a tree) as a tar stream (bytes); its entries are
        named from path's last component."""
        q = urllib.parse.urlencode({"path": path})
        return self.client.request("GET", self._path("/files?" + q), raw=True)

    def get(self, path, local_dir):
        """path (a file or a tree) into local_dir, as local_dir/NAME."""
        data = self.get_tar(path)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r") as t:
            _safe_extract(t, local_dir)
        return os.path.join(local_dir, os.path.basename(path))

    # ---- snapshots -------------------------------------------------------

    def snapshot(self, name):
        """Saves its files (and settings, without secret values) as `name`.
        Running processes are not saved."""
        return self.client.request("POST", self._path("/snapshot"), {"name": name})


class Job:
    """A job started with Sandbox.start()."""

    def __init__(self, sandbox, job_id):
        self.sandbox = sandbox
        self.id = job_id

    def __repr__(self):
        return "Job(%s/%s)" % (self.sandbox.id, self.id)

    def _path(self, rest=""):
        return self.sandbox._path("/jobs/" + self.id + rest)

    def info(self):
        return self.sandbox.client.request("GET", self._path())

    def events(self):
        """Its events from now on (the end last); one reader at a time."""
        for raw in self.sandbox.client.stream_request("GET", self._path("/events")):
            yield Event(raw)

    def wait(self):
        """Waits for its end: its result."""
        for ev in self.events():
            if ev.type == "end":
                return ev.result
        return self.info().get("result")

    def signal(self, sig):
        return self.sandbox.client.request("POST", self._path("/signal"), {"signal": sig})

    def cancel(self):
        """Ends it, its whole process tree."""
        return self.sandbox.client.request("DELETE", self._path())

    def write(self, data, eof=False):
        """More stdin (a job started with stdin_open=True); eof closes it."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        q = "?eof=1" if eof else ""
        return self.sandbox.client.request(
            "POST",
            self._path("/stdin" + q),
            body=bytes(data),
            headers={"Content-Type": "application/octet-stream"},
        )

    def resize(self, rows, cols):
        return self.sandbox.client.request(
            "POST", self._path("/resize"), {"rows": rows, "cols": cols}
        )
