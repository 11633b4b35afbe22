// How the chart starts `podpattern serve`: the V8 flags in NODE_OPTIONS and the rest of the
// environment it sets, read from the rendered Deployment, so the memory test runs what it runs.
import { find, renderChart } from '../install/helpers.js';

export function chartServeEnvironment(): { nodeFlags: string[]; env: Record<string, string> } {
  const deployment = find(renderChart().objects, 'Deployment');
  const entries = (deployment.spec.template.spec.containers[0].env ?? []) as Array<{ name: string; value?: string }>;
  const env = Object.fromEntries(entries.filter((e) => e.value !== undefined && e.name !== 'NODE_OPTIONS').map((e) => [e.name, e.value as string]));
  const options = entries.find((e) => e.name === 'NODE_OPTIONS')?.value;
  return { nodeFlags: options === undefined ? [] : options.split(' ').filter(Boolean), env };
}
