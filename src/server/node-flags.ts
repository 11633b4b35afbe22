// The V8 flags `podpattern serve` runs with, wherever it is started: the image's ENTRYPOINT,
// `npm start` and the benchmark (a test holds the three to this list).
//
// --max-semi-space-size=4 (MiB): V8 grows the young generation up to 16 MiB per semi-space on
// 64-bit (https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib), and startup (the
// catalog's schema compilation, certificate checks) already grows it that far, so an idle
// webhook held ~30 MB of young generation it rarely needs. A review allocates a few KB that die
// young, so a 4 MiB semi-space still collects them cheaply; bench/RESULTS.md has the numbers.
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=4'] as const;
