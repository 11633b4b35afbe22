// The separator budget: what is counted, and why a short text is never scanned.
import t from 'tap';
import { MAX_JSON_SEPARATORS, countSeparators, exceedsSeparators } from '../../src/server/json-budget.js';

t.test('separators and openings are counted outside strings only', async (t) => {
  t.equal(countSeparators('{"a":1,"b":[2,3]}'), 6);
  t.equal(countSeparators('{"a,b:c":"x:y,z"}'), 2, 'commas and colons inside strings do not count');
  t.equal(countSeparators('{"a[{":"[]{}"}'), 2, 'nor brackets');
  t.equal(countSeparators('{"a\\":,":1}'), 2, 'an escaped quote does not end a string');
  t.equal(countSeparators('{"a\\\\":1,"b":2}'), 4, 'an escaped backslash before a quote does end it');
  t.equal(countSeparators('[[[[[]]]]]'), 5, 'nested empty arrays have no separators but are values');
  t.equal(countSeparators('[{},{},{}]'), 6);
  t.equal(countSeparators('"unterminated,:,:'), 0, 'an unterminated string runs to the end');
  t.equal(countSeparators('1,'.repeat(100), 10), 11, 'counting stops once past the limit');
});

t.test('a text is over the budget exactly when it holds more separators than the limit', async (t) => {
  const list = (n: number): string => `[${'0,'.repeat(n - 1)}0]`;
  t.notOk(exceedsSeparators(list(10), 10), 'ten separators fit a limit of ten');
  t.ok(exceedsSeparators(list(11), 10), 'eleven do not');
  t.ok(exceedsSeparators('['.repeat(11) + ']'.repeat(11), 10), 'eleven nested arrays do not either');
  t.notOk(exceedsSeparators(`"${','.repeat(50)}"`, 10), 'a long string of commas is one value');
  // Every separator is one character, so a text of at most `limit` characters is never over it.
  for (let length = 0; length <= 12; length += 1) {
    const text = ','.repeat(length);
    t.equal(exceedsSeparators(text, 12), false, `${length} characters cannot exceed 12`);
    if (length > 0) t.ok(exceedsSeparators(text, length - 1), `${length} separators exceed a limit of ${length - 1}`);
  }
  t.ok(exceedsSeparators(list(MAX_JSON_SEPARATORS), MAX_JSON_SEPARATORS - 1), 'the default limit applies to long texts');
});
