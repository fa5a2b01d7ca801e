// SPDX-License-Identifier: MIT
// tar.ts: just enough tar (POSIX ustar, with pax headers for long names) to
// move trees to and from a sandbox: regular files, directories, symlinks.
// Reading a tar from a sandbox treats it as hostile: names are checked and
// nothing is ever written through a link (extract()).

import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import * as path from "node:path";

export type EntryType = "file" | "dir" | "symlink";

export interface TarEntry {
  name: string; // relative, '/'-separated
  type: EntryType;
  mode?: number;
  data?: Buffer; // file
  linkname?: string; // symlink
  mtime?: number; // seconds
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function header(name: string, type: string, size: number, mode: number, mtime: number,
                linkname = ""): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, "utf8");
  h.write(octal(mode & 0o7777, 8), 100, "ascii");
  h.write(octal(0, 8), 108, "ascii");
  h.write(octal(0, 8), 116, "ascii");
  h.write(octal(size, 12), 124, "ascii");
  h.write(octal(Math.max(0, Math.floor(mtime)), 12), 136, "ascii");
  h.fill(" ", 148, 156); // the checksum counts itself as spaces
  h.write(type, 156, "ascii");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, "ascii");
  h.write("00", 263, "ascii");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + " ", 148, "ascii");
  return h;
}

function pad(len: number): Buffer {
  return Buffer.alloc((BLOCK - (len % BLOCK)) % BLOCK);
}

function paxRecord(key: string, value: string): string {
  // "LEN key=value\n", where LEN counts itself.
  const body = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(body) + 1;
  while (String(len).length + Buffer.byteLength(body) !== len)
    len = String(len).length + Buffer.byteLength(body);
  return `${len}${body}`;
}

/** A tar of the entries (names relative, '/'-separated). */
export function pack(entries: TarEntry[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const mtime = e.mtime ?? Date.now() / 1000;
    const data = e.type === "file" ? (e.data ?? Buffer.alloc(0)) : Buffer.alloc(0);
    let name = e.type === "dir" && !e.name.endsWith("/") ? e.name + "/" : e.name;
    const link = e.linkname ?? "";
    if (Buffer.byteLength(name) > 99 || Buffer.byteLength(link) > 99) {
      let pax = paxRecord("path", name);
      if (link) pax += paxRecord("linkpath", link);
      const pb = Buffer.from(pax, "utf8");
      out.push(header("PaxHeader", "x", pb.length, 0o644, mtime), pb, pad(pb.length));
      name = name.slice(0, 99);
    }
    const type = e.type === "file" ? "0" : e.type === "dir" ? "5" : "2";
    const mode = e.mode ?? (e.type === "dir" ? 0o755 : e.type === "symlink" ? 0o777 : 0o644);
    out.push(header(name, type, data.length, mode, mtime, link.slice(0, 99)));
    if (data.length) out.push(data, pad(data.length));
  }
  out.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(out);
}

function str(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const z = s.indexOf(0);
  return (z < 0 ? s : s.subarray(0, z)).toString("utf8");
}

function num(b: Buffer, off: number, len: number): number {
  const s = str(b, off, len).trim();
  return s ? parseInt(s, 8) : 0;
}

/** The entries of a tar (ustar, pax and GNU long names). */
export function unpack(buf: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let off = 0;
  let paxPath: string | undefined;
  let paxLink: string | undefined;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) break;
    const size = num(h, 124, 12);
    const type = String.fromCharCode(h[156] || 0x30);
    const dataOff = off + BLOCK;
    if (size < 0 || dataOff + size > buf.length) throw new Error("tar: truncated");
    const data = buf.subarray(dataOff, dataOff + size);
    off = dataOff + size + ((BLOCK - (size % BLOCK)) % BLOCK);
    if (type === "x") {
      for (const rec of data.toString("utf8").split("\n")) {
        const m = /^\d+ ([^=]+)=(.*)$/s.exec(rec);
        if (m && m[1] === "path") paxPath = m[2];
        if (m && m[1] === "linkpath") paxLink = m[2];
      }
      continue;
    }
    if (type === "L") {
      paxPath = str(data, 0, data.length);
      continue;
    }
    if (type === "g") continue;
    const prefix = str(h, 345, 155);
    let name = paxPath ?? (prefix ? prefix + "/" : "") + str(h, 0, 100);
    const linkname = paxLink ?? str(h, 157, 100);
    paxPath = paxLink = undefined;
    const mode = num(h, 100, 8);
    const mtime = num(h, 136, 12);
    if (type === "5") {
      entries.push({ name: name.replace(/\/+$/, ""), type: "dir", mode, mtime });
    } else if (type === "2") {
      entries.push({ name, type: "symlink", linkname, mode, mtime });
    } else if (type === "0" || type === "\0" || type === "7") {
      entries.push({ name, type: "file", data: Buffer.from(data), mode, mtime });
    } else {
      throw new Error(`tar: entry ${JSON.stringify(name)} is of a kind not accepted (${type})`);
    }
    name = "";
  }
  return entries;
}

/** A local file or tree as entries named from its basename (or, for a
 * directory with contentsOnly, from its contents). Links are not followed. */
export async function fromDisk(local: string, contentsOnly = false): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  async function walk(p: string, name: string): Promise<void> {
    const st = await lstat(p);
    if (st.isSymbolicLink()) {
      out.push({ name, type: "symlink", linkname: await readlink(p), mtime: st.mtimeMs / 1000 });
    } else if (st.isDirectory()) {
      if (name) out.push({ name, type: "dir", mode: st.mode & 0o777, mtime: st.mtimeMs / 1000 });
      for (const child of (await readdir(p)).sort())
        await walk(path.join(p, child), name ? `${name}/${child}` : child);
    } else if (st.isFile()) {
      out.push({ name, type: "file", data: await readFile(p), mode: st.mode & 0o777,
                 mtime: st.mtimeMs / 1000 });
    }
  }
  const st = await lstat(local);
  await walk(local, contentsOnly && st.isDirectory() ? "" : path.basename(local));
  return out;
}

function checkedName(name: string): string[] {
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (name.startsWith("/") || parts.length === 0 || parts.includes(".."))
    throw new Error(`tar: entry ${JSON.stringify(name)} is absolute, empty or climbs out`);
  return parts;
}

async function isLink(p: string): Promise<boolean> {
  try {
    return (await lstat(p)).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Writes entries under dest, as a sandbox's files: no name may leave it,
 * nothing is written through a link (one a previous entry made included),
 * files are created, never overwritten, and no set-uid bit is kept.
 */
export async function extract(entries: TarEntry[], dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  for (const e of entries) {
    const parts = checkedName(e.name);
    let dir = dest;
    for (const p of parts.slice(0, -1)) {
      dir = path.join(dir, p);
      if (await isLink(dir)) throw new Error(`tar: ${e.name} would be written through a link`);
      await mkdir(dir, { recursive: false }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EEXIST") throw err;
      });
    }
    const target = path.join(dir, parts[parts.length - 1]);
    if (await isLink(target)) throw new Error(`tar: ${e.name} would replace a link`);
    if (e.type === "dir") {
      await mkdir(target, { mode: (e.mode ?? 0o755) & 0o755 }).catch(
        (err: NodeJS.ErrnoException) => {
          if (err.code !== "EEXIST") throw err;
        });
    } else if (e.type === "symlink") {
      await symlink(e.linkname ?? "", target);
    } else {
      await writeFile(target, e.data ?? Buffer.alloc(0), { flag: "wx", mode: (e.mode ?? 0o644) & 0o755 });
    }
  }
}
