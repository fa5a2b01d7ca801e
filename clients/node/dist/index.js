// SPDX-License-Identifier: MIT
// sandboxvm: a client of the session API of `sandboxvm serve` (docs/API.md).
// No runtime dependencies: node:http over the server's unix socket (or TCP
// with a token), JSON bodies, NDJSON event streams, tar for trees.
//
//   import { Client } from "sandboxvm";
//   const client = new Client();                     // $SANDBOXVM_SOCKET, or the default
//   const sb = await client.create();
//   const r = await sb.run(["python3", "-c", "print(6 * 7)"]);
//   console.log(r.stdout.toString(), r.exitStatus);  // "42\n" 0
//   for await (const ev of sb.stream("for i in 1 2 3; do echo $i; sleep 0.1; done"))
//     console.log(ev.type, ev.data?.toString());
//   await sb.destroy();
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import * as tar from "./tar.js";
export { tar };
const API = "/v1";
/** A refusal or failure the server answered with. */
export class SandboxvmError extends Error {
    status;
    constructor(status, message) {
        super(`${status}: ${message}`);
        this.status = status;
        this.name = "SandboxvmError";
    }
    get serverMessage() {
        return this.message.replace(/^\d+: /, "");
    }
}
/** $SANDBOXVM_SOCKET, else where `sandboxvm serve` puts it by default. */
export function defaultSocket() {
    if (process.env.SANDBOXVM_SOCKET)
        return process.env.SANDBOXVM_SOCKET;
    if (process.env.XDG_RUNTIME_DIR)
        return path.join(process.env.XDG_RUNTIME_DIR, "sandboxvm.sock");
    const state = process.env.XDG_STATE_HOME ?? path.join(os.homedir(), ".local", "state");
    return path.join(state, "sandboxvm", "serve.sock");
}
function bytesOf(obj, key) {
    const t = obj[key];
    if (typeof t === "string")
        return Buffer.from(t, "utf8");
    const b = obj[key + "_b64"];
    return typeof b === "string" ? Buffer.from(b, "base64") : Buffer.alloc(0);
}
/** One event of a job: "start", "stdout", "stderr" or "end". */
export class Event {
    raw;
    type;
    job;
    data;
    result;
    constructor(raw) {
        this.raw = raw;
        this.type = raw.type;
        this.job = raw.job;
        if (this.type === "stdout" || this.type === "stderr")
            this.data = bytesOf(raw, "data");
        if (this.type === "end")
            this.result = raw.result;
    }
}
/** A finished job: its output and its result. */
export class ExecResult {
    job;
    stdout;
    stderr;
    result;
    sandboxEnded;
    constructor(job, stdout, stderr, result, sandboxEnded) {
        this.job = job;
        this.stdout = stdout;
        this.stderr = stderr;
        this.result = result;
        this.sandboxEnded = sandboxEnded;
    }
    get outcome() { return this.result.outcome; }
    get exitStatus() { return this.result.exit_status; }
    get exitCode() { return this.result.exit_code; }
    get message() { return this.result.message; }
    get ok() { return this.outcome === "exited" && this.exitCode === 0; }
}
/** A connection to one `sandboxvm serve`. */
export class Client {
    socketPath;
    host;
    port;
    token;
    timeoutMs;
    agent;
    constructor(opts = {}) {
        if (opts.url) {
            const u = new URL(opts.url);
            this.host = u.hostname;
            this.port = Number(u.port || 80);
        }
        else {
            this.socketPath = opts.socketPath ?? defaultSocket();
        }
        this.token = opts.token;
        this.timeoutMs = opts.timeoutMs ?? 300_000;
        this.agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    }
    /** Closes the kept connections. */
    close() {
        this.agent.destroy();
    }
    options(method, p, headers, agent) {
        const h = { Host: "sandboxvm", ...headers };
        if (this.token)
            h.Authorization = `Bearer ${this.token}`;
        const o = { method, path: API + p, headers: h, agent };
        if (this.socketPath)
            o.socketPath = this.socketPath;
        else {
            o.host = this.host;
            o.port = this.port;
        }
        return o;
    }
    send(method, p, body, headers = {}) {
        return new Promise((resolve, reject) => {
            const h = { ...headers };
            if (body)
                h["Content-Length"] = String(body.length);
            const req = http.request(this.options(method, p, h, this.agent), (res) => {
                const chunks = [];
                res.on("data", (c) => chunks.push(c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers,
                    body: Buffer.concat(chunks) }));
                res.on("error", reject);
            });
            req.setTimeout(this.timeoutMs, () => req.destroy(new Error("timed out")));
            req.on("error", (e) => reject(new SandboxvmError(0, `connection: ${e.message}`)));
            req.end(body);
        });
    }
    /** One request: JSON in (an object) or bytes; JSON out, or bytes when raw. */
    async request(method, p, body, headers = {}, raw = false) {
        let data;
        if (Buffer.isBuffer(body))
            data = body;
        else if (body !== undefined) {
            data = Buffer.from(JSON.stringify(body), "utf8");
            headers = { "Content-Type": "application/json", ...headers };
        }
        const r = await this.send(method, p, data, headers);
        if (r.status >= 400)
            throw errorOf(r.status, r.body);
        if (raw)
            return r.body;
        return r.body.length ? JSON.parse(r.body.toString("utf8")) : null;
    }
    /**
     * A request answered with NDJSON: each event as it comes. A connection
     * of its own; leaving the loop early closes it, which ends the job unless
     * it was started with onDisconnect "keep".
     */
    async *streamRequest(method, p, body) {
        const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body), "utf8");
        const headers = data
            ? { "Content-Type": "application/json", "Content-Length": String(data.length) }
            : {};
        const req = http.request(this.options(method, p, headers, false));
        const res = await new Promise((resolve, reject) => {
            req.on("response", resolve);
            req.on("error", (e) => reject(new SandboxvmError(0, `connection: ${e.message}`)));
            req.end(data);
        });
        try {
            if ((res.statusCode ?? 0) >= 400) {
                const chunks = [];
                for await (const c of res)
                    chunks.push(c);
                throw errorOf(res.statusCode ?? 0, Buffer.concat(chunks));
            }
            let pending = Buffer.alloc(0);
            for await (const c of res) {
                pending = Buffer.concat([pending, c]);
                let nl;
                while ((nl = pending.indexOf(10)) >= 0) {
                    const line = pending.subarray(0, nl);
                    pending = pending.subarray(nl + 1);
                    if (line.length)
                        yield JSON.parse(line.toString("utf8"));
                }
            }
        }
        finally {
            req.destroy();
            res.destroy();
        }
    }
    info() {
        return this.request("GET", "/info");
    }
    /** A new sandbox; without settings (and not persistent) it may come from the warm pool. */
    async create(opts = {}) {
        const body = {};
        if (opts.settings !== undefined)
            body.settings = opts.settings;
        if (opts.persistent)
            body.persistent = true;
        if (opts.idleTimeout !== undefined)
            body.idle_timeout = opts.idleTimeout;
        if (opts.maxLifetime !== undefined)
            body.max_lifetime = opts.maxLifetime;
        if (opts.name !== undefined)
            body.name = opts.name;
        return new Sandbox(this, await this.request("POST", "/sandboxes", body));
    }
    /** A new sandbox from a snapshot (secrets are not kept in snapshots: give them again). */
    async restore(snapshot, opts = {}) {
        const body = { snapshot };
        if (opts.secrets?.length)
            body.secrets = opts.secrets;
        if (opts.idleTimeout !== undefined)
            body.idle_timeout = opts.idleTimeout;
        if (opts.maxLifetime !== undefined)
            body.max_lifetime = opts.maxLifetime;
        if (opts.name !== undefined)
            body.name = opts.name;
        return new Sandbox(this, await this.request("POST", "/sandboxes", body));
    }
    async sandboxes() {
        const d = await this.request("GET", "/sandboxes");
        return d.sandboxes.map((s) => new Sandbox(this, s));
    }
    async sandbox(id) {
        return new Sandbox(this, await this.request("GET", `/sandboxes/${encodeURIComponent(id)}`));
    }
    async snapshots() {
        return (await this.request("GET", "/snapshots")).snapshots;
    }
    snapshotInfo(name) {
        return this.request("GET", `/snapshots/${encodeURIComponent(name)}`);
    }
    deleteSnapshot(name) {
        return this.request("DELETE", `/snapshots/${encodeURIComponent(name)}`);
    }
}
function errorOf(status, body) {
    try {
        return new SandboxvmError(status, JSON.parse(body.toString("utf8")).error.message);
    }
    catch {
        return new SandboxvmError(status, body.toString("utf8"));
    }
}
function execBody(cmd, o) {
    const body = typeof cmd === "string" ? { shell: cmd } : { argv: cmd };
    if (o.env)
        body.env = o.env;
    if (o.cwd)
        body.cwd = o.cwd;
    if (typeof o.stdin === "string")
        body.stdin = o.stdin;
    else if (o.stdin)
        body.stdin_b64 = o.stdin.toString("base64");
    if (o.timeout !== undefined)
        body.timeout = o.timeout;
    if (o.outputLimit !== undefined)
        body.output_limit = o.outputLimit;
    if (o.terminal)
        body.terminal = o.terminal;
    if (o.name)
        body.name = o.name;
    return body;
}
function query(q) {
    return "?" + new URLSearchParams(q).toString();
}
/** A sandbox of the server. */
export class Sandbox {
    client;
    desc;
    id;
    constructor(client, desc) {
        this.client = client;
        this.desc = desc;
        this.id = desc.id;
    }
    p(rest = "") {
        return `/sandboxes/${encodeURIComponent(this.id)}${rest}`;
    }
    /** State, settings, the live inventory and usage, network attempts (or its result). */
    async inspect() {
        this.desc = await this.client.request("GET", this.p());
        return this.desc;
    }
    /** Ends it; its own result. */
    async destroy() {
        this.desc = await this.client.request("DELETE", this.p());
        return this.desc;
    }
    /** Runs cmd (an argv array, or a shell string) to its end. */
    async run(cmd, opts = {}) {
        const d = await this.client.request("POST", this.p("/exec"), { ...execBody(cmd, opts), stream: false });
        return new ExecResult(d.job, bytesOf(d, "stdout"), bytesOf(d, "stderr"), d.result ?? {}, d.sandbox_ended);
    }
    /** Runs cmd and yields its events as they come, the "end" last. */
    async *stream(cmd, opts = {}) {
        const body = { ...execBody(cmd, opts), on_disconnect: opts.onDisconnect ?? "kill" };
        for await (const raw of this.client.streamRequest("POST", this.p("/exec"), body))
            yield new Event(raw);
    }
    /** Starts cmd and returns at once. */
    async start(cmd, opts = {}) {
        const body = { ...execBody(cmd, opts), detach: true };
        if (opts.stdinOpen)
            body.stdin_open = true;
        const d = await this.client.request("POST", this.p("/exec"), body);
        return new Job(this, d.id);
    }
    async jobs() {
        return (await this.client.request("GET", this.p("/jobs"))).jobs;
    }
    /** One file (text or bytes) at path; replaces what is there unless told not to. */
    writeFile(p, data, opts = {}) {
        const q = query({ path: p, replace: opts.replace === false ? "0" : "1" });
        return this.client.request("PUT", this.p("/files" + q), Buffer.isBuffer(data) ? data : Buffer.from(data, "utf8"), { "Content-Type": "application/octet-stream" });
    }
    /** One regular file's bytes. */
    readFile(p) {
        return this.client.request("GET", this.p("/files" + query({ path: p, format: "raw" })), undefined, {}, true);
    }
    putTar(tarBytes, p, opts = {}) {
        const q = query({ path: p, replace: opts.replace ? "1" : "0" });
        return this.client.request("PUT", this.p("/files" + q), tarBytes, { "Content-Type": "application/x-tar" });
    }
    /** p (a file or a tree) as a tar; its entries are named from p's last component. */
    getTar(p) {
        return this.client.request("GET", this.p("/files" + query({ path: p })), undefined, {}, true);
    }
    /** A local directory's contents into directory p of the sandbox (made if missing). */
    async putDir(local, p, opts = {}) {
        return this.putTar(tar.pack(await tar.fromDisk(local, true)), p, opts);
    }
    /** p (a file or a tree) into localDir, as localDir/NAME; links stay links. */
    async getDir(p, localDir) {
        await tar.extract(tar.unpack(await this.getTar(p)), localDir);
        return path.join(localDir, path.posix.basename(p));
    }
    /** Saves its files (and settings, without secret values) as `name`. Processes are not saved. */
    snapshot(name) {
        return this.client.request("POST", this.p("/snapshot"), { name });
    }
}
/** A job started with Sandbox.start(). */
export class Job {
    sandbox;
    id;
    constructor(sandbox, id) {
        this.sandbox = sandbox;
        this.id = id;
    }
    p(rest = "") {
        return `/sandboxes/${encodeURIComponent(this.sandbox.id)}/jobs/${encodeURIComponent(this.id)}${rest}`;
    }
    info() {
        return this.sandbox.client.request("GET", this.p());
    }
    /** Its events from now on (the end last); one reader at a time. */
    async *events() {
        for await (const raw of this.sandbox.client.streamRequest("GET", this.p("/events")))
            yield new Event(raw);
    }
    /** Waits for its end: its result. */
    async wait() {
        for await (const ev of this.events())
            if (ev.type === "end")
                return ev.result ?? {};
        return (await this.info()).result;
    }
    signal(sig) {
        return this.sandbox.client.request("POST", this.p("/signal"), { signal: sig });
    }
    /** Ends it, its whole process tree. */
    cancel() {
        return this.sandbox.client.request("DELETE", this.p());
    }
    /** More stdin (a job started with stdinOpen); eof closes it. */
    write(data, opts = {}) {
        return this.sandbox.client.request("POST", this.p("/stdin" + (opts.eof ? "?eof=1" : "")), Buffer.isBuffer(data) ? data : Buffer.from(data, "utf8"), { "Content-Type": "application/octet-stream" });
    }
    resize(rows, cols) {
        return this.sandbox.client.request("POST", this.p("/resize"), { rows, cols });
    }
}
