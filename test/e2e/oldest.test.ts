// The end-to-end suite on the oldest leg: the oldest Kubernetes release the chart admits (its kubeVersion). See suite.ts and README.md.
import t from 'tap';
import { runLeg } from './suite.js';

// One subtest for the leg: a subtest ends when its function returns, while tap's root test ends
// by itself as soon as no subtest is pending, which a group's own awaits between subtests would
// otherwise trigger.
await t.test(`Kubernetes leg 'oldest'`, (t) => runLeg(t, 'oldest'));
