// How the chart starts `podpattern serve`: the V8 flags in NODE_OPTIONS, the rest of the
// environment it sets and the container's memory limit, read from the rendered Deployment, so
// the memory test runs what the chart runs and holds it to the chart's own limit.
import { find, renderChart } from '../install/helpers.js';

const SUFFIXES: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, k: 1e3, M: 1e6, G: 1e9, '': 1 };

/** Bytes of a Kubernetes memory quantity such as "384Mi" or "1G". */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G|)$/.exec(quantity);
  if (match === null) throw new Error(`'${quantity}' is not a memory quantity this helper reads`);
  return Number(match[1]) * (SUFFIXES[match[2] as string] as number);
}

export function chartServeEnvironment(): { nodeOptions: string; env: Record<string, string>; memoryLimitBytes: number } {
  const container = find(renderChart().objects, 'Deployment').spec.template.spec.containers[0];
  const entries = (container.env ?? []) as Array<{ name: string; value?: string }>;
  const env = Object.fromEntries(
    entries.filter((e) => e.value !== undefined && e.name !== 'NODE_OPTIONS').map((e) => [e.name, e.value as string]),
  );
  const limit = container.resources?.limits?.memory;
  if (typeof limit !== 'string') throw new Error('the chart sets no memory limit on the podpattern container');
  return { nodeOptions: entries.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '', env, memoryLimitBytes: quantityBytes(limit) };
}
