// The end-to-end suite on the current leg: the newest Kubernetes release built here. See suite.ts and README.md.
import t from 'tap';
import { runLeg } from './suite.js';

await runLeg(t, 'current');
