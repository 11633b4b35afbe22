// The end-to-end suite on the current leg: the newest Kubernetes release built here. See suite.ts and README.md.
import t from 'tap';
import { runLeg } from './suite.js';

// One subtest for the leg: a subtest ends when its function returns, while tap's root test ends
// by itself as soon as no subtest is pending, which a group's own awaits between subtests would
// otherwise trigger.
await t.test(`Kubernetes leg 'current'`, (t) => runLeg(t, 'current'));
