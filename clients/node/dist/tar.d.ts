export type EntryType = "file" | "dir" | "symlink";
export interface TarEntry {
    name: string;
    type: EntryType;
    mode?: number;
    data?: Buffer;
    linkname?: string;
    mtime?: number;
}
/** A tar of the entries (names relative, '/'-separated). */
export declare function pack(entries: TarEntry[]): Buffer;
/** The entries of a tar (ustar, pax and GNU long names). */
export declare function unpack(buf: Buffer): TarEntry[];
/** A local file or tree as entries named from its basename (or, for a
 * directory with contentsOnly, from its contents). Links are not followed. */
export declare function fromDisk(local: string, contentsOnly?: boolean): Promise<TarEntry[]>;
/**
 * Writes entries under dest, as a sandbox's files: no name may leave it,
 * nothing is written through a link (one a previous entry made included),
 * files are created, never overwritten, and no set-uid bit is kept.
 */
export declare function extract(entries: TarEntry[], dest: string): Promise<void>;
