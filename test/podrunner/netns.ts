// A pod's network: its own network namespace joined to the host by one veth pair, as a CNI
// plugin gives a pod. The pod's address is a non-loopback one from a private /30 that only this
// veth reaches (no default route: the pod has no egress), so a probe or a client that talks to the pod IP takes the same path a kubelet's
// probe takes; loopback inside the namespace is the pod's own and nobody else's.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PodNetwork {
  /** `ip netns` name, unique per pod. */
  name: string;
  /** The pod IP, inside the namespace. */
  podIp: string;
  /** The host end of the veth: what the pod reaches the outside (test doubles) through. */
  hostIp: string;
  remove(): Promise<void>;
}

async function ip(...args: string[]): Promise<string> {
  return (await run('ip', args)).stdout;
}

/** 10.200.0.0/13 cut into /30s; a random one that no interface on the host already uses. */
async function freeSubnet(): Promise<[string, string]> {
  const used = await ip('-4', '-o', 'addr', 'show');
  for (let attempt = 0; attempt < 32; attempt++) {
    const n = randomBytes(3).readUIntBE(0, 3) & 0x7ffff; // 19 bits of /30s in a /13
    const base = (10 << 24) | (200 << 16) | (n << 2);
    const host = dotted(base + 1);
    const pod = dotted(base + 2);
    if (!used.includes(` ${host}/`) && !used.includes(` ${pod}/`)) return [host, pod];
  }
  throw new Error('no free /30 in 10.200.0.0/13 after 32 tries');
}

function dotted(n: number): string {
  return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join('.');
}

export async function createPodNetwork(): Promise<PodNetwork> {
  const id = randomBytes(4).toString('hex');
  const name = `podrunner-${id}`;
  const hostIf = `pr${id}h`;
  const podIf = `pr${id}p`;
  const [hostIp, podIp] = await freeSubnet();
  await ip('netns', 'add', name);
  const remove = async (): Promise<void> => {
    // Deleting the namespace destroys the pod end and, with it, the whole veth pair.
    await ip('netns', 'del', name).catch(() => undefined);
    await ip('link', 'del', hostIf).catch(() => undefined);
  };
  try {
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', podIf);
    await ip('link', 'set', podIf, 'netns', name);
    await ip('addr', 'add', `${hostIp}/30`, 'dev', hostIf);
    await ip('link', 'set', hostIf, 'up');
    await ip('-n', name, 'addr', 'add', `${podIp}/30`, 'dev', podIf);
    await ip('-n', name, 'link', 'set', podIf, 'up');
    await ip('-n', name, 'link', 'set', 'lo', 'up');
  } catch (error) {
    await remove();
    throw error;
  }
  return { name, podIp, hostIp, remove };
}
