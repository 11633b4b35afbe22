// The repository stands alone: comments, docs, tests and READMEs cite nothing a reader of the
// repository lacks (a product spec kept elsewhere, its section numbers, issue or pull-request
// numbers, a brief). What a reader needs is said beside the code or in docs/. This test reads
// every tracked text file and names each such reference by file:line.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** This file spells the references out to find them. */
const SELF = 'test/repo/stands-alone.test.ts';
/** Generated lock and checksum files: no prose, and long enough to slow the scan for nothing. */
const SKIPPED = [/^package-lock\.json$/, /(^|\/)go\.sum$/];

/** Each kind of outside reference, with what to write instead. */
const REFERENCES: { pattern: RegExp; what: string }[] = [
  { pattern: /\bSPEC\b/, what: 'a spec document outside the repository' },
  { pattern: /§\s*\d/, what: 'a section number of a document outside the repository' },
  { pattern: /\b(?:issues?|PR|pull request|ticket)\s*#?\d+/i, what: 'an issue or pull-request number' },
  { pattern: /(?:^|[\s([{,])#\d+\b/, what: 'an issue or pull-request number' },
  { pattern: /\bthe brief\b/i, what: 'a brief outside the repository' },
  { pattern: /\b(?:STYLE|HELPERS)\.md\b/, what: 'a guide kept outside the repository' },
  { pattern: /\bsession \d+\b/i, what: 'a work session outside the repository' },
];

/** `file:line: text (what)` for each outside reference in `text`. */
export function outsideReferences(file: string, text: string): string[] {
  const found: string[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    const hit = REFERENCES.find(({ pattern }) => pattern.test(line));
    if (hit) found.push(`${file}:${i + 1}: ${line.trim().slice(0, 160)} (${hit.what})`);
  }
  return found;
}

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  return out.split('\0').filter((f) => f !== '' && f !== SELF && !SKIPPED.some((s) => s.test(f)));
}

t.test('the detector flags outside references and leaves ordinary text alone', async (t) => {
  for (const line of [
    '// The live catalog (SPEC §6): built-in templates',
    'see SPEC.md',
    "t.test('the nine templates of §5 load')",
    '// Target (issue 2): under 100 µs',
    '// fixed in #12',
    '## Against the targets (Issue #3)',
    '(PR 41)',
    'as the brief asks',
    'Session 1 measured',
    '// The engine is pure (STYLE.md): nothing',
  ]) {
    t.equal(outsideReferences('x.ts', line).length, 1, line);
  }
  for (const line of [
    "const SPEC_TEMPLATE = ['spec', 'template'];",
    "/** The CA's PKCS#8 key. */",
    'ssl_session_cache shared:https_proxy:1m;',
    'cert-manager issues the serving certificate; issuerRef: {}',
    "failures.find((f) => f.name.endsWith('#3'))",
    '"color": "#73BF69"',
    'a brief pause between rounds',
    '--new-session',
  ]) {
    t.same(outsideReferences('x.ts', line), [], line);
  }
  t.same(outsideReferences('a/b.md', 'one\ntwo (issue 7)\n'), ['a/b.md:2: two (issue 7) (an issue or pull-request number)']);
});

t.test('no tracked file refers to anything outside the repository', async (t) => {
  const files = trackedFiles();
  t.ok(files.length > 100, `git ls-files lists the repository (${files.length} files)`);
  const found: string[] = [];
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(join(ROOT, file));
    } catch {
      continue; // deleted in the work tree but not yet from the index
    }
    if (bytes.includes(0)) continue; // binary
    found.push(...outsideReferences(file, bytes.toString('utf8')));
  }
  t.same(found, [], `say what the reader needs beside the code or in docs/ instead of citing:\n${found.join('\n')}`);
});
