// Kubernetes quantities read exactly and written as the API server stores them.
import t from 'tap';
import { formatQuantity, parseQuantity } from '../../src/model/quantity.js';

t.test('quantities read exactly, in nano-units', async (t) => {
  const cases: [string, bigint | undefined][] = [
    ['100m', 100_000_000n],
    ['0.1', 100_000_000n],
    ['.5', 500_000_000n],
    ['1', 1_000_000_000n],
    ['2e3', 2_000_000_000_000n],
    ['1E-3', 1_000_000n],
    ['1Ki', 1024n * 1_000_000_000n],
    ['0.25Gi', 268_435_456n * 1_000_000_000n],
    ['64Mi', 67_108_864n * 1_000_000_000n],
    ['1k', 1_000_000_000_000n],
    ['5n', 5n],
    ['-1', -1_000_000_000n],
    ['', undefined],
    ['lots', undefined],
    ['1.2.3', undefined],
    ['1KB', undefined],
    ['1 Mi', undefined],
    ['1e999', undefined],
    ['9'.repeat(65), undefined],
    ['Mi', undefined],
  ];
  for (const [text, nano] of cases) t.equal(parseQuantity(text), nano, `${JSON.stringify(text)} -> ${String(nano)}`);
});

t.test('written in the form the API server keeps (its canonical form for that suffix)', async (t) => {
  const cases: [string, 'cpu' | 'memory', string][] = [
    ['250m', 'cpu', '250m'],
    ['0.25', 'cpu', '250m'],
    ['1.5', 'cpu', '1500m'],
    ['2000m', 'cpu', '2'],
    ['0.5m', 'cpu', '1m'],
    ['0.25Gi', 'memory', '256Mi'],
    ['1024', 'memory', '1Ki'],
    ['1000', 'memory', '1k'],
    ['1500', 'memory', '1500'],
    ['100M', 'memory', '100M'],
    ['1.5Gi', 'memory', '1536Mi'],
    ['0.5', 'memory', '1'],
  ];
  for (const [text, resource, expected] of cases)
    t.equal(formatQuantity(parseQuantity(text) as bigint, resource), expected, `${text} (${resource}) -> ${expected}`);
});
