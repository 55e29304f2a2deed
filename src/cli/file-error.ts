/**
 * @module cli/file-error
 *
 * A file the operator named could not be read or written. Kept apart from the library's errors
 * because only the command line deals in operator-chosen paths; the entry point maps it to exit
 * code 1 with the path and the system's reason.
 */
import { readFileSync, writeFileSync } from "node:fs";

/** Reading or writing an operator-named file failed. */
export class FileAccessError extends Error {
  readonly path: string;
  constructor(path: string, action: "read" | "write", cause: unknown) {
    super(`cannot ${action} ${path}: ${(cause as Error).message ?? String(cause)}`, { cause });
    this.name = "FileAccessError";
    this.path = path;
  }
}

/** Writes `data` to `path`, or throws {@link FileAccessError}. */
export function writeFileOrFail(path: string, data: string | Uint8Array): void {
  try {
    writeFileSync(path, data);
  } catch (cause) {
    throw new FileAccessError(path, "write", cause);
  }
}

/** Reads `path` (at most `maxBytes`), or throws {@link FileAccessError}. */
export function readFileOrFail(path: string, maxBytes: number): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new FileAccessError(path, "read", cause);
  }
  if (bytes.length > maxBytes) {
    throw new FileAccessError(path, "read", new Error(`larger than ${maxBytes} bytes`));
  }
  return bytes;
}
