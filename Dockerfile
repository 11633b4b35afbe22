# syntax=docker/dockerfile:1
# podpattern webhook image: build with dev dependencies, run with production ones only.
#   docker build -t podpattern:dev .
# or, with buildah and no registry (the base made from Debian's packages): npm run image
# (docs/images.md).
# The image holds no certificates: the serving certificate is mounted from a Secret
# (see docs/install.md), and the process writes nothing outside /tmp, so it runs with
# readOnlyRootFilesystem: true.

# Node 24 (LTS until April 2028) on Debian 13 slim, pinned to a release: bump it with Node's
# security releases. Override with --build-arg NODE_IMAGE=... to try another.
ARG NODE_IMAGE=node:24.22.3-trixie-slim

# --- build: compile TypeScript, copy the built-in catalog, bundle client-node into dist/ ----
FROM ${NODE_IMAGE} AS build
# A C compiler for the one native addon (src/server/malloc-trim.c, which serve calls to give the
# C heap's free pages back); this stage only, so the runtime image carries none.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied in.
RUN npm ci --ignore-scripts --no-audit --no-fund
# The rest of the sources; .dockerignore keeps out tests, docs, charts, keys and local builds.
COPY . .
# The commit `podpattern version` and podpattern_build_info report (the context has no .git):
#   docker build --build-arg PODPATTERN_COMMIT=$(git rev-parse HEAD) .
ARG PODPATTERN_COMMIT=unknown
# PODPATTERN_NATIVE=required: a native addon that cannot be built fails the build, here only.
RUN PODPATTERN_COMMIT=${PODPATTERN_COMMIT} PODPATTERN_NATIVE=required npm run build

# --- production dependencies only ----------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` runs the TypeScript build, which needs dev dependencies.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# --- runtime -------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG PODPATTERN_COMMIT=unknown
# OCI annotations; the release workflow adds version and created (docker/metadata-action).
LABEL org.opencontainers.image.title="podpattern" \
      org.opencontainers.image.description="Kubernetes mutating admission webhook: sidecar, ambassador and adapter containers from templates" \
      org.opencontainers.image.source="https://github.com/podpattern/podpattern" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.revision="${PODPATTERN_COMMIT}"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# package.json says "type": "module", which the compiled ES modules need.
COPY package.json ./
# Files stay owned by root and read-only to the process; it runs as a numeric non-root user
# so Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 65532:65532
EXPOSE 8443 8080
# V8 flags: src/server/node-flags.ts says why (a test keeps the two the same).
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/src/bin/podpattern.js"]
CMD ["serve"]
