// The README's Layout block names every top-level part of src/ (folders and root files), and
// nothing that is not there.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

t.test("the README's layout block matches src/", async (t) => {
  const readme = readFileSync(`${ROOT}README.md`, 'utf8');
  const block = /## Layout\n\n```\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(block, 'the README has a Layout block');
  const named = [...(block ?? '').matchAll(/^src\/([^/\s]+\/?)\s/gm)].map((m) => (m[1] as string).replace(/\/$/, ''));
  const parts = readdirSync(`${ROOT}src`, { withFileTypes: true }).map((entry) => entry.name);
  t.same([...new Set(named)].sort(), parts.sort());
  t.equal(new Set(named).size, named.length, 'each part is named once');
});
