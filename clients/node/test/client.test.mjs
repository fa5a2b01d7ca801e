// SPDX-License-Identifier: MIT
// The Node client against a real `sandboxvm serve` (started here, on a
// socket in a private directory). SBVM names the binary (default: the
// build tree's). Run: node --test clients/node/test/
// It imports the built dist/ (kept in the repository; `npm run build`
// remakes it from src/).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, mkdir, readFile, readlink, rm, symlink, writeFile, lstat } from "node:fs/promises";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

import { Client, SandboxvmError, tar } from "../dist/index.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const TOP = path.resolve(HERE, "..", "..", "..");
const SBVM = process.env.SBVM || path.join(TOP, "build", "sandboxvm");

async function startServer(...args) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "clienttest-node-"));
  const socket = path.join(dir, "s.sock");
  const log = fs.openSync(path.join(dir, "log"), "w");
  const proc = spawn(SBVM, ["serve", "--socket", socket, "--state", path.join(dir, "state"),
                            "--ready-fd", "3", ...args],
                     { stdio: ["ignore", log, log, "pipe"] });
  const ready = await new Promise((resolve) => {
    let got = "";
    proc.stdio[3].on("data", (d) => { got += d; if (got.includes("\n")) resolve(got); });
    proc.on("exit", () => resolve(got));
  });
  fs.closeSync(log);
  if (ready !== "ready\n")
    throw new Error("the server did not start: " + fs.readFileSync(path.join(dir, "log"), "utf8"));
  const client = new Client({ socketPath: socket });
  return {
    dir, socket, client,
    async stop() {
      client.close();
      if (proc.exitCode === null) {
        const done = new Promise((r) => proc.on("exit", r));
        proc.kill("SIGTERM");
        await done;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv.stop(); });

async function withSandbox(opts, fn) {
  const sb = await srv.client.create(opts);
  try {
    return await fn(sb);
  } finally {
    await sb.destroy().catch(() => {});
  }
}

async function rejects(promise, status) {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof SandboxvmError, String(e));
    assert.equal(e.status, status, e.message);
    return e;
  }
  assert.fail(`expected a ${status}`);
}

test("info names the API version", async () => {
  const info = await srv.client.info();
  assert.equal(info.api_version, 1);
  assert.equal(info.uid, process.getuid());
});

test("run collects output and the result, bytes included", () => withSandbox({}, async (sb) => {
  const r = await sb.run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
  assert.equal(r.stdout.toString(), "out\n");
  assert.equal(r.stderr.toString(), "err\n");
  assert.equal(r.outcome, "exited");
  assert.equal(r.exitCode, 3);
  const b = await sb.run("printf '\\377\\376ok'");
  assert.deepEqual(b.stdout, Buffer.from([0xff, 0xfe, 0x6f, 0x6b]));
  assert.equal((await sb.run(["cat"], { stdin: Buffer.from([0, 1, 2]) })).stdout.length, 3);
}));

test("stream yields output as it comes", () => withSandbox({}, async (sb) => {
  const seen = [];
  const t0 = Date.now();
  for await (const ev of sb.stream("echo one; sleep 0.4; echo two >&2"))
    seen.push([ev.type, ev.data?.toString(), Date.now() - t0]);
  assert.deepEqual(seen.map((s) => s[0]), ["start", "stdout", "stderr", "end"]);
  assert.equal(seen[1][1], "one\n");
  assert.ok(seen[1][2] + 250 < seen[2][2], JSON.stringify(seen));
}));

test("a timeout ends the whole process tree", () => withSandbox({}, async (sb) => {
  const r = await sb.run("sleep 100 & setsid sleep 101 & sleep 102", { timeout: 0.5 });
  assert.equal(r.outcome, "limit");
  assert.equal(r.exitStatus, 124);
  const ps = await sb.run("for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline; echo; done");
  assert.ok(!/sleep 10[012]/.test(ps.stdout.toString()), ps.stdout.toString());
}));

test("files go in and come out; links stay links", () => withSandbox({}, async (sb) => {
  await sb.writeFile("/tmp/a.txt", "hello");
  assert.equal((await sb.readFile("/tmp/a.txt")).toString(), "hello");
  await sb.writeFile("/tmp/a.txt", "again");
  assert.equal((await sb.readFile("/tmp/a.txt")).toString(), "again");
  await rejects(sb.writeFile("/tmp/a.txt", "no", { replace: false }), 409);
  const d = await mkdtemp(path.join(os.tmpdir(), "clienttest-node-t-"));
  try {
    await mkdir(path.join(d, "src", "sub"), { recursive: true });
    await writeFile(path.join(d, "src", "sub", "f"), "deep");
    await symlink("/etc/passwd", path.join(d, "src", "link"));
    // A name longer than ustar's 100 bytes goes through a pax header.
    const long = "n".repeat(150);
    await writeFile(path.join(d, "src", long), "long");
    await sb.putDir(path.join(d, "src"), "/tmp/work");
    assert.equal((await sb.run(["cat", "/tmp/work/sub/f"])).stdout.toString(), "deep");
    assert.equal((await sb.run(["cat", `/tmp/work/${long}`])).stdout.toString(), "long");
    await sb.run("echo made > /tmp/work/new; ln -s / /tmp/work/root");
    const out = await sb.getDir("/tmp/work", path.join(d, "back"));
    assert.equal(await readFile(path.join(out, "new"), "utf8"), "made\n");
    assert.ok((await lstat(path.join(out, "root"))).isSymbolicLink());
    assert.equal(await readlink(path.join(out, "link")), "/etc/passwd");
  } finally {
    await rm(d, { recursive: true, force: true });
  }
  await rejects(sb.readFile("/tmp/no-such-file"), 404);
}));

test("a hostile tar is refused by the server, and by extract", () => withSandbox({}, async (sb) => {
  for (const name of ["../escape", "/abs/path", "a/../../b"]) {
    const t = tar.pack([{ name, type: "file", data: Buffer.from("x") }]);
    await rejects(sb.putTar(t, "/tmp"), 400);
  }
  const through = tar.pack([{ name: "l", type: "symlink", linkname: "/etc" },
                            { name: "l/evil", type: "file", data: Buffer.from("x") }]);
  await rejects(sb.putTar(through, "/tmp/t"), 400);
  const d = await mkdtemp(path.join(os.tmpdir(), "clienttest-node-x-"));
  try {
    await assert.rejects(tar.extract(tar.unpack(through), d), /through a link/);
    await assert.rejects(tar.extract([{ name: "../x", type: "file" }], d), /climbs out/);
  } finally {
    await rm(d, { recursive: true, force: true });
  }
}));

test("a started job takes stdin, signals and cancel", () => withSandbox({}, async (sb) => {
  let job = await sb.start(["cat"], { stdinOpen: true });
  await job.write("line 1\n");
  await job.write(Buffer.from("line 2\n"), { eof: true });
  let res = await job.wait();
  assert.equal(res.outcome, "exited");
  assert.equal(res.stdout.head, "line 1\nline 2\n");
  job = await sb.start(["sleep", "100"]);
  await job.signal("TERM");
  res = await job.wait();
  assert.equal(res.outcome, "killed");
  assert.equal(res.signal.name, "SIGTERM");
  job = await sb.start("sleep 200 & sleep 201");
  await job.cancel();
  assert.equal((await job.wait()).outcome, "killed");
}));

test("a client that goes away ends its job", () => withSandbox({}, async (sb) => {
  for await (const ev of sb.stream("echo started; sleep 300")) {
    if (ev.type === "stdout") break; // closes the connection
  }
  let jobs;
  for (let i = 0; i < 200; i++) {
    jobs = await sb.jobs();
    if (jobs[0].state === "done") break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(jobs[0].state, "done");
  assert.equal(jobs[0].outcome, "killed");
}));

test("snapshots keep files and restore many times", async () => {
  await withSandbox({ settings: { env: { GREETING: "hi" } } }, async (sb) => {
    await sb.run("mkdir -p /tmp/proj && echo state > /tmp/proj/f");
    const snap = await sb.snapshot("node-snap");
    assert.equal(snap.processes_saved, false);
  });
  try {
    for (let i = 0; i < 2; i++) {
      const sb2 = await srv.client.restore("node-snap");
      try {
        assert.equal((await sb2.run(["cat", "/tmp/proj/f"])).stdout.toString(), "state\n");
        assert.equal((await sb2.run("echo $GREETING")).stdout.toString(), "hi\n");
        await sb2.run("echo changed > /tmp/proj/f");
      } finally {
        await sb2.destroy();
      }
    }
    assert.ok((await srv.client.snapshots()).some((s) => s.name === "node-snap"));
  } finally {
    await srv.client.deleteSnapshot("node-snap");
  }
  await rejects(srv.client.restore("node-snap"), 404);
});

test("refusals are 4xx with a message", async () => {
  await rejects(srv.client.sandbox("sb-000000000000"), 404);
  const e = await rejects(srv.client.request("POST", "/sandboxes", Buffer.from("{not json"),
                                             { "Content-Type": "application/json" }), 400);
  assert.match(e.message, /not JSON/);
  await rejects(srv.client.create({ settings: { keep_env: true } }), 403);
  const sb = await srv.client.create();
  await sb.destroy();
  await rejects(sb.run(["true"]), 409);
  assert.equal((await sb.inspect()).end_reason, "destroyed");
});

test("a secret reaches only its host and never the guest", async () => {
  let auth;
  const httpd = http.createServer((req, res) => {
    auth = req.headers.authorization;
    res.end("your token was " + auth);
  });
  await new Promise((r) => httpd.listen(0, "127.0.0.1", r));
  const port = httpd.address().port;
  try {
    await withSandbox({
      settings: { network: { mode: "allow", allow: [`127.0.0.1:${port}`], allow_private: true,
                             secrets: [{ name: "TOKEN", value: "s3cret-value", host: "127.0.0.1" }] } },
    }, async (sb) => {
      const r = await sb.run(`curl -s -H "Authorization: Bearer $TOKEN" http://127.0.0.1:${port}/`);
      assert.equal(auth, "Bearer s3cret-value");
      assert.ok(!r.stdout.toString().includes("s3cret-value"), r.stdout.toString());
      const d = await sb.inspect();
      assert.ok(!JSON.stringify(d).includes("s3cret-value"));
      assert.equal(d.network.attempts.length, 1);
    });
  } finally {
    httpd.close();
  }
});

test("the agent example runs to its end", () => {
  const r = spawnSync(process.execPath, [path.join(HERE, "..", "dist", "examples", "agent.js")],
                      { env: { ...process.env, SANDBOXVM_SOCKET: srv.socket }, encoding: "utf8",
                        timeout: 120_000 });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /step 9: dog/);
  assert.match(r.stdout, /result: \{ words: 9 \}/);
  assert.match(r.stdout, /restored:/);
  assert.ok(!r.stdout.includes("demo-token"));
});

test("dist/ is what src/ compiles to", { skip: !fs.existsSync(path.join(HERE, "..", "node_modules", "typescript")) && "typescript is not installed here (npm install)" }, async () => {
  const out = await mkdtemp(path.join(os.tmpdir(), "clienttest-node-tsc-"));
  try {
    const tsc = path.join(HERE, "..", "node_modules", "typescript", "bin", "tsc");
    const r = spawnSync(process.execPath, [tsc, "-p", path.join(HERE, ".."), "--outDir", out], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    for (const f of ["index.js", "tar.js", "index.d.ts", "examples/agent.js"])
      assert.equal(await readFile(path.join(out, f), "utf8"),
                   await readFile(path.join(HERE, "..", "dist", f), "utf8"), f);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});
