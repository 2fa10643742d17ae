import fs from 'node:fs';
import path from 'node:path';

/**
 * A sandbox's state kept in a JSON file next to the ledger, so the demo's orders outlive a restart
 * of `npm start`. Written atomically (temp file, then rename); tests run without a file.
 */
export class SnapshotFile<T> {
  constructor(private readonly file: string | undefined) {}

  load(): T | undefined {
    if (!this.file || !fs.existsSync(this.file)) return undefined;
    return JSON.parse(fs.readFileSync(this.file, 'utf8')) as T;
  }

  save(state: T): void {
    if (!this.file) return;
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(state));
    fs.renameSync(temp, this.file);
  }
}
