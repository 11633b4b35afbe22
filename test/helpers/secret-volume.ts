// A Secret volume laid out the way the kubelet's atomic writer does it:
//   dir/..2026_11_23_20_00_00.123456789/{tls.crt,tls.key}   the payload, one directory per version
//   dir/..data -> ..2026_...                                 swapped by rename(..data_tmp, ..data)
//   dir/tls.crt -> ..data/tls.crt, dir/tls.key -> ..data/tls.key
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class SecretVolume {
  readonly dir: string;
  private version = 0;

  constructor(files: Record<string, string>) {
    this.dir = mkdtempSync(join(tmpdir(), 'podpattern-secret-'));
    const first = this.writePayload(files);
    symlinkSync(first, join(this.dir, '..data'));
    for (const name of Object.keys(files)) symlinkSync(join('..data', name), join(this.dir, name));
  }

  file(name: string): string {
    return join(this.dir, name);
  }

  /** Publishes a new version atomically, then removes the old payload, as the kubelet does. */
  update(files: Record<string, string>): void {
    const old = readlinkSync(join(this.dir, '..data'));
    const next = this.writePayload(files);
    symlinkSync(next, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    rmSync(join(this.dir, old), { recursive: true, force: true });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }

  private writePayload(files: Record<string, string>): string {
    this.version += 1;
    const name = `..2026_11_23_20_00_00.${String(this.version).padStart(9, '0')}`;
    mkdirSync(join(this.dir, name));
    for (const [file, content] of Object.entries(files)) writeFileSync(join(this.dir, name, file), content);
    return name;
  }
}
