// Which values of an injected container the status records for the integrity guard
// (src/engine/integrity.ts): one the guard's CEL could not read back is left out, whatever
// character makes it so, and any other value is recorded as it is.
import t from 'tap';
import { recordCritical, type Critical } from '../../src/engine/integrity.js';

function recordedImage(image: string): string[] {
  const record: Critical = { images: [], ports: [], securityContexts: [] };
  recordCritical(record, { name: 'c', image });
  return record.images;
}

t.test('an image the guard could not read back is not recorded', async (t) => {
  for (const bad of ['a"b', 'a\\b', 'a,b', 'a]b', 'a\u0000b', 'a\tb', 'a\nb', 'a\u001fb']) {
    t.same(recordedImage(bad), [], JSON.stringify(bad));
  }
});

t.test('any other image is recorded as it is, characters outside the BMP included', async (t) => {
  for (const good of ['nginx:1.27', 'registry.example/a[b', 'a\u0020b', 'a\u007fb', 'é🙂', '']) {
    t.same(recordedImage(good), [`c=${good}`], JSON.stringify(good));
  }
});
