// The CLI's YAML reader reads what kubectl (YAML 1.1) reads, and its writer writes what a
// YAML 1.1 reader and a YAML 1.2 reader both read back as meant: checked with the yaml
// package's own 1.1 and 1.2 schemas, on known traps and on random strings.
import t from 'tap';
import fc from 'fast-check';
import { parse } from 'yaml';
import { readDocuments, writeDocument } from '../../src/cli/yaml.js';

const read11 = (text: string): unknown => parse(text, { version: '1.1' });
const read12 = (text: string): unknown => parse(text, { version: '1.2' });

t.test('input is read as kubectl reads it', async (t) => {
  const [doc] = readDocuments(
    'mode: 0644\nflag: on\nshort: y\nquoted: "on"\nwhen: 2024-01-01\nclock: 12:30\nhex: 0x1F\nmerged:\n  <<: {a: 1}\n  b: 2\n',
  );
  t.same(
    doc,
    { mode: 420, flag: true, short: true, quoted: 'on', when: '2024-01-01', clock: '12:30', hex: 31, merged: { a: 1, b: 2 } },
    'octal, 1.1 booleans, merge keys; timestamps and base 60 stay strings as in go-yaml v2',
  );
});

t.test('output means the same to YAML 1.1 and 1.2 readers: the known traps', async (t) => {
  const value = {
    metadata: {
      annotations: {
        on: 'on',
        yes: 'yes',
        y: 'y',
        n: 'N',
        off: 'Off',
        octal: '0644',
        octal12: '0o644',
        time: '12:30',
        float: '1_000.5',
        tilde: '~',
        null: 'null',
        empty: '',
        date: '2024-01-01',
        inf: '.inf',
        nan: '.NaN',
        hex: '0x1F',
        exp: '1e3',
        bin: '0b101',
      },
    },
    spec: { defaultMode: 420, replicas: 3, enabled: true, ratio: 0.5, nothing: null },
  };
  const text = writeDocument(value);
  t.same(read11(text), value, 'YAML 1.1');
  t.same(read12(text), value, 'YAML 1.2');
  t.same(readDocuments(text), [value], "the CLI's own reader");
  t.match(text, /defaultMode: 420\n/, '0644 is written as the number it means');
  t.notMatch(text, /%YAML/, 'no directive for kubectl to split into a document of its own');
});

t.test('an annotation named << stays a key to a YAML 1.1 reader, not a merge', async (t) => {
  // Found by the property below: kubectl's YAML 1.1 reader takes an unquoted << for a merge key.
  const value = { metadata: { annotations: { '<<': '', other: '<<' } } };
  const text = writeDocument(value);
  t.match(text, /"<<": ""/, 'the key is quoted');
  t.same(read11(text), value);
  t.same(read12(text), value);
});

t.test('output means the same to YAML 1.1 and 1.2 readers: random strings', async (t) => {
  const tricky = fc.constantFrom(
    'on',
    'Off',
    'YES',
    'n',
    '0777',
    '0o17',
    '1:2:3',
    '-.inf',
    '+1',
    '1__0',
    '0b1',
    '=',
    '<<',
    '2001-12-14t21:59:43.10-05:00',
    '~',
    'Null',
    '.5',
    '1.',
    '0x_1',
  );
  const scalar = fc.oneof(fc.string({ maxLength: 12 }), tricky, fc.stringMatching(/^[-+0-9.:_eExob]{1,8}$/));
  const key = fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), tricky);
  fc.assert(
    fc.property(fc.dictionary(key, scalar, { maxKeys: 6 }), (annotations) => {
      const value = { metadata: { annotations } };
      const text = writeDocument(value);
      return JSON.stringify(read11(text)) === JSON.stringify(value) && JSON.stringify(read12(text)) === JSON.stringify(value);
    }),
    { numRuns: 500 },
  );
  t.pass('500 random annotation maps round-trip');
});
