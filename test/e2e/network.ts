// The e2e cluster's network, made the way a node's container network is: a bridge in the host
// network namespace (the node's address, where kube-apiserver listens) and, for each pod the
// node agent runs, a network namespace of its own joined to the bridge by a veth pair, with a
// pod IP from the bridge's /24. The API server calls a webhook pod at that IP, as it would in a
// cluster. Inside each pod namespace one DNAT rule stands in for kube-proxy: the `kubernetes`
// Service's ClusterIP (10.96.0.1:443) leads to the API server, so in-cluster clients work.
//
// Needs root (CAP_NET_ADMIN): `ip`, and `iptables` for the DNAT rule. Every name carries a
// per-cluster id, so two clusters (or two CI runs) never collide, and stop() removes them all.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** The `kubernetes` Service's ClusterIP: the first address of --service-cluster-ip-range. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const SERVICE_CIDR = '10.96.0.0/16';

export interface PodNetwork {
  namespace: string;
  ip: string;
  /** Runs a command inside the pod's network namespace (the argv to prefix). */
  exec: string[];
  remove(): void;
}

export interface NodeNetwork {
  bridge: string;
  /** The node's address on the bridge: kube-apiserver listens here. */
  nodeIp: string;
  /** Makes a pod's network namespace; `apiserverPort` is where 10.96.0.1:443 leads. */
  addPod(apiserverPort: number): PodNetwork;
  stop(): void;
}

function ip(args: readonly string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Whether this process can make network namespaces; the reason when it cannot. */
export function networkUnavailable(): string | undefined {
  if (process.getuid?.() !== 0)
    return 'the e2e suite runs pods in network namespaces of its own and needs root (run it as root, as CI does)';
  for (const tool of [
    ['ip', '-V'],
    ['iptables', '--version'],
    ['bwrap', '--version'],
    ['setpriv', '--version'],
  ] as const) {
    try {
      execFileSync(tool[0], [tool[1]], { stdio: 'ignore' });
    } catch {
      return `${tool[0]} is missing: install iproute2, iptables, bubblewrap and util-linux (.ci/run does)`;
    }
  }
  return undefined;
}

/** A /24 in 10.244.0.0/16 that no interface of this machine uses yet. */
function freeSubnet(): string {
  const used = ip(['-4', '-o', 'addr', 'show']);
  for (let attempt = 0; attempt < 64; attempt += 1) {
    const third = randomBytes(1)[0] as number;
    const prefix = `10.244.${third}.`;
    if (!used.includes(` ${prefix}`)) return prefix;
  }
  throw new Error('no free /24 in 10.244.0.0/16 for the e2e node network; remove stale pp* bridges (ip link show type bridge)');
}

export function startNodeNetwork(): NodeNetwork {
  const id = randomBytes(3).toString('hex');
  const bridge = `ppbr${id}`;
  const prefix = freeSubnet();
  const nodeIp = `${prefix}1`;
  const pods = new Set<PodNetwork>();
  ip(['link', 'add', bridge, 'type', 'bridge']);
  try {
    ip(['addr', 'add', `${nodeIp}/24`, 'dev', bridge]);
    ip(['link', 'set', bridge, 'up']);
  } catch (error) {
    ip(['link', 'del', bridge]);
    throw error;
  }
  let next = 10;

  const addPod = (apiserverPort: number): PodNetwork => {
    const index = next;
    next += 1;
    if (index > 250) throw new Error('the e2e node network has no pod address left');
    const namespace = `pp-${id}-${index}`;
    const hostSide = `ppv${id}${index.toString(16)}`;
    const podIp = `${prefix}${index}`;
    const exec = ['ip', 'netns', 'exec', namespace];
    const run = (args: readonly string[]): void => {
      execFileSync(args[0] as string, args.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    };
    ip(['netns', 'add', namespace]);
    const pod: PodNetwork = {
      namespace,
      ip: podIp,
      exec,
      remove: () => {
        pods.delete(pod);
        try {
          ip(['netns', 'del', namespace]); // takes the pod end of the veth, and with it the host end
        } catch {
          // already gone
        }
      },
    };
    pods.add(pod);
    try {
      ip(['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace]);
      ip(['link', 'set', hostSide, 'master', bridge, 'up']);
      run([...exec, 'ip', 'link', 'set', 'lo', 'up']);
      run([...exec, 'ip', 'addr', 'add', `${podIp}/24`, 'dev', 'eth0']);
      run([...exec, 'ip', 'link', 'set', 'eth0', 'up']);
      run([...exec, 'ip', 'route', 'add', 'default', 'via', nodeIp]);
      run([
        ...exec,
        'iptables',
        '-t',
        'nat',
        '-A',
        'OUTPUT',
        '-d',
        `${KUBERNETES_SERVICE_IP}/32`,
        '-p',
        'tcp',
        '--dport',
        '443',
        '-j',
        'DNAT',
        '--to-destination',
        `${nodeIp}:${apiserverPort}`,
      ]);
    } catch (error) {
      pod.remove();
      throw error;
    }
    return pod;
  };

  return {
    bridge,
    nodeIp,
    addPod,
    stop: () => {
      for (const pod of [...pods]) pod.remove();
      try {
        ip(['link', 'del', bridge]);
      } catch {
        // already gone
      }
    },
  };
}
