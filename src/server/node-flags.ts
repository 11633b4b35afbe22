// The V8 flags `podpattern serve` runs with, wherever it is started: the image's ENTRYPOINT,
// `npm start` and the benchmark (a test holds the three to this list).
//
// --max-semi-space-size=4 (MiB): V8 grows the young generation up to 16 MiB per semi-space on
// 64-bit (https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib), and startup (the
// catalog's schema compilation, certificate checks) already grows it that far, so an idle
// webhook held ~30 MB of young generation it rarely needs. A distinct review allocates ~90 KB
// (the body, its parse, the engine's copies, the answer), nearly all dead by the next review,
// and each scavenge costs about the same whatever the size, so the size sets how often it runs.
// Measured with the Deployment's environment and client-node loaded (bench/RESULTS.md): CPU
// per review at c16 299 µs at 4 MiB, 284 at 8, 266 at 16; resident memory after load 133, 141
// and 165 MB. 8 kept serve under 150 MB with half the scavenges of 4; on Node 24, 4 is what keeps
// the hostile mix beside idle connections under 60 % of the chart's limit (with the connection
// cap, connections.ts): 8 MiB less idle and at the peak (docs/install.md, "Memory"), for ~5 %
// more CPU per review.
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=4'] as const;
