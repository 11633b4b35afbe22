// The pod runner stands in for this repository's own images with what they are built from; what
// it sends to stop one must be what the runtime sends to the real image (its Dockerfile's
// STOPSIGNAL, SIGTERM without one), or a clean stop in the pod runner says nothing of the image.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { DEFAULT_IMAGES } from './images.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const OWN: Record<string, string> = {
  'ghcr.io/podpattern/twemproxy': 'images/twemproxy/Dockerfile',
  'ghcr.io/podpattern/podpattern': 'Dockerfile',
};

for (const [image, dockerfile] of Object.entries(OWN)) {
  t.test(`${image}: the pod runner stops it as its ${dockerfile} says`, async (t) => {
    const declared = /^STOPSIGNAL\s+(\S+)\s*$/m.exec(readFileSync(`${root}${dockerfile}`, 'utf8'))?.[1] ?? 'SIGTERM';
    t.ok(DEFAULT_IMAGES[image], 'the pod runner has a stand-in for it');
    t.equal(DEFAULT_IMAGES[image]?.stopSignal ?? 'SIGTERM', declared, `the stop signal is ${declared}`);
  });
}
