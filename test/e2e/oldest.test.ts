// The end-to-end suite on the oldest leg: the oldest Kubernetes release the chart admits (its kubeVersion). See suite.ts and README.md.
import t from 'tap';
import { runLeg } from './suite.js';

await runLeg(t, 'oldest');
