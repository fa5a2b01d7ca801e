import * as tar from "./tar.js";
export { tar };
/** A refusal or failure the server answered with. */
export declare class SandboxvmError extends Error {
    readonly status: number;
    constructor(status: number, message: string);
    get serverMessage(): string;
}
/** $SANDBOXVM_SOCKET, else where `sandboxvm serve` puts it by default. */
export declare function defaultSocket(): string;
/** A job's result: a guest object of docs/REPORT-JSON.md. */
export type Result = Record<string, any> & {
    outcome?: string;
    exit_status?: number;
    exit_code?: number | null;
    message?: string;
};
/** One event of a job: "start", "stdout", "stderr" or "end". */
export declare class Event {
    readonly raw: Record<string, any>;
    readonly type: string;
    readonly job?: string;
    readonly data?: Buffer;
    readonly result?: Result;
    constructor(raw: Record<string, any>);
}
/** A finished job: its output and its result. */
export declare class ExecResult {
    readonly job: string;
    readonly stdout: Buffer;
    readonly stderr: Buffer;
    readonly result: Result;
    readonly sandboxEnded?: string | undefined;
    constructor(job: string, stdout: Buffer, stderr: Buffer, result: Result, sandboxEnded?: string | undefined);
    get outcome(): string | undefined;
    get exitStatus(): number | undefined;
    get exitCode(): number | null | undefined;
    get message(): string | undefined;
    get ok(): boolean;
}
export interface ExecOptions {
    env?: Record<string, string>;
    cwd?: string;
    stdin?: string | Buffer;
    timeout?: number;
    outputLimit?: number;
    terminal?: boolean | {
        rows?: number;
        cols?: number;
    };
    name?: string;
}
export interface CreateOptions {
    settings?: Record<string, unknown>;
    persistent?: boolean;
    idleTimeout?: number;
    maxLifetime?: number;
    name?: string;
}
export interface Secret {
    name: string;
    value: string;
    host: string;
}
export interface ClientOptions {
    socketPath?: string;
    url?: string;
    token?: string;
    timeoutMs?: number;
}
/** A connection to one `sandboxvm serve`. */
export declare class Client {
    readonly socketPath?: string;
    private readonly host?;
    private readonly port?;
    private readonly token?;
    private readonly timeoutMs;
    private readonly agent;
    constructor(opts?: ClientOptions);
    /** Closes the kept connections. */
    close(): void;
    private options;
    private send;
    /** One request: JSON in (an object) or bytes; JSON out, or bytes when raw. */
    request(method: string, p: string, body?: unknown, headers?: Record<string, string>, raw?: boolean): Promise<any>;
    /**
     * A request answered with NDJSON: each event as it comes. A connection
     * of its own; leaving the loop early closes it, which ends the job unless
     * it was started with onDisconnect "keep".
     */
    streamRequest(method: string, p: string, body?: unknown): AsyncGenerator<Record<string, any>>;
    info(): Promise<any>;
    /** A new sandbox; without settings (and not persistent) it may come from the warm pool. */
    create(opts?: CreateOptions): Promise<Sandbox>;
    /** A new sandbox from a snapshot (secrets are not kept in snapshots: give them again). */
    restore(snapshot: string, opts?: {
        secrets?: Secret[];
        idleTimeout?: number;
        maxLifetime?: number;
        name?: string;
    }): Promise<Sandbox>;
    sandboxes(): Promise<Sandbox[]>;
    sandbox(id: string): Promise<Sandbox>;
    snapshots(): Promise<any[]>;
    snapshotInfo(name: string): Promise<any>;
    deleteSnapshot(name: string): Promise<any>;
}
/** A sandbox of the server. */
export declare class Sandbox {
    readonly client: Client;
    desc: Record<string, any>;
    readonly id: string;
    constructor(client: Client, desc: Record<string, any>);
    private p;
    /** State, settings, the live inventory and usage, network attempts (or its result). */
    inspect(): Promise<Record<string, any>>;
    /** Ends it; its own result. */
    destroy(): Promise<Record<string, any>>;
    /** Runs cmd (an argv array, or a shell string) to its end. */
    run(cmd: string | string[], opts?: ExecOptions): Promise<ExecResult>;
    /** Runs cmd and yields its events as they come, the "end" last. */
    stream(cmd: string | string[], opts?: ExecOptions & {
        onDisconnect?: "kill" | "keep";
    }): AsyncGenerator<Event>;
    /** Starts cmd and returns at once. */
    start(cmd: string | string[], opts?: ExecOptions & {
        stdinOpen?: boolean;
    }): Promise<Job>;
    jobs(): Promise<any[]>;
    /** One file (text or bytes) at path; replaces what is there unless told not to. */
    writeFile(p: string, data: string | Buffer, opts?: {
        replace?: boolean;
    }): Promise<any>;
    /** One regular file's bytes. */
    readFile(p: string): Promise<Buffer>;
    putTar(tarBytes: Buffer, p: string, opts?: {
        replace?: boolean;
    }): Promise<any>;
    /** p (a file or a tree) as a tar; its entries are named from p's last component. */
    getTar(p: string): Promise<Buffer>;
    /** A local directory's contents into directory p of the sandbox (made if missing). */
    putDir(local: string, p: string, opts?: {
        replace?: boolean;
    }): Promise<any>;
    /** p (a file or a tree) into localDir, as localDir/NAME; links stay links. */
    getDir(p: string, localDir: string): Promise<string>;
    /** Saves its files (and settings, without secret values) as `name`. Processes are not saved. */
    snapshot(name: string): Promise<any>;
}
/** A job started with Sandbox.start(). */
export declare class Job {
    readonly sandbox: Sandbox;
    readonly id: string;
    constructor(sandbox: Sandbox, id: string);
    private p;
    info(): Promise<any>;
    /** Its events from now on (the end last); one reader at a time. */
    events(): AsyncGenerator<Event>;
    /** Waits for its end: its result. */
    wait(): Promise<Result>;
    signal(sig: string | number): Promise<any>;
    /** Ends it, its whole process tree. */
    cancel(): Promise<any>;
    /** More stdin (a job started with stdinOpen); eof closes it. */
    write(data: string | Buffer, opts?: {
        eof?: boolean;
    }): Promise<any>;
    resize(rows: number, cols: number): Promise<any>;
}
