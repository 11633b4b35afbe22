// The pod runner: runs a pod the way a kubelet would, for tests (see pod.ts).
export { startPod, type RunningPod, type StartOptions, type ContainerState, type Termination } from './pod.js';
export { DEFAULT_IMAGES, type ImageMap, type ImageProgram } from './images.js';
