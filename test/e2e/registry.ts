// An OCI registry on loopback for one run: Debian's `docker-registry` (the CNCF Distribution
// registry, the one Docker Hub and ghcr.io speak the same API as), storing in the run's temp
// dir, plain HTTP on 127.0.0.1 and a free port. The release rehearsal pushes the image, its
// signature and the chart to it; the node agent pulls the image from it by digest.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, httpOk, waitFor } from './cluster.js';
import { startProcess, stopProcess, type Managed } from './processes.js';

export const REGISTRY_BINARY = '/usr/bin/docker-registry';

export interface Registry {
  /** host:port, the registry part of an image reference (`127.0.0.1:5123/podpattern`). */
  host: string;
  process: Managed;
  stop(): Promise<void>;
}

/** Why no registry can be started here, with what installs it; undefined when it can. */
export function registryMissing(): string | undefined {
  return existsSync(REGISTRY_BINARY)
    ? undefined
    : `${REGISTRY_BINARY} is missing (the e2e release rehearsal pushes the image and the chart to a registry on loopback): apt-get install docker-registry`;
}

export async function startRegistry(dir: string): Promise<Registry> {
  const missing = registryMissing();
  if (missing !== undefined) throw new Error(missing);
  const root = join(dir, 'registry');
  mkdirSync(join(root, 'storage'), { recursive: true });
  const port = await freePort();
  const config = join(root, 'config.yml');
  // The configuration format: https://distribution.github.io/distribution/about/configuration/
  // No auth and no TLS: it listens on loopback only, for this run's processes.
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: info',
      '  accesslog:',
      '    disabled: false',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(root, 'storage')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
      '',
    ].join('\n'),
  );
  const process = startProcess('docker-registry', REGISTRY_BINARY, ['serve', config], { logFile: join(dir, 'registry.log') });
  const host = `127.0.0.1:${port}`;
  await waitFor('docker-registry', () => httpOk(`http://${host}/v2/`), process, 60_000);
  return { host, process, stop: async () => void (await stopProcess(process)) };
}
