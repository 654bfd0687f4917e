# soclink image: both commands, soclinkd (the entrypoint) and soclink.
# Every daemon setting is a SOCLINK_* environment variable (soclinkd --help),
# e.g. SOCLINK_ROLE=ep SOCLINK_PEERS=rc:7400 SOCLINK_SECRET_FILE=/run/secrets/x.
# docker-compose.yml runs the README's topologies with it; test/topology runs
# that file's services in network namespaces with these ENV, ENTRYPOINT and
# HEALTHCHECK lines.

# The current Node LTS (26: LTS since October 2026; Node 20 reached end of
# life in April 2026). The package itself runs on Node >= 20.19 (README,
# "Supported Node versions").
ARG NODE_VERSION=26

# Build: dev dependencies, generated protobuf modules, tsc, and the
# rpmsg_char shim for `soclink run` (client/native: a C compiler and
# <linux/rpmsg.h>).
FROM node:${NODE_VERSION}-trixie-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY proto ./proto
COPY daemon/src ./daemon/src
COPY client/src ./client/src
COPY client/native ./client/native
RUN npm run build && test -f dist/native/libsoclink-rpmsg.so

# Runtime: production dependencies and dist/ only.
FROM node:${NODE_VERSION}-trixie-slim AS runtime
WORKDIR /opt/soclink
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY proto/*.proto ./proto/
RUN chmod 0755 dist/daemon/src/bin/soclinkd.js dist/client/src/bin/soclink.js \
 && ln -s /opt/soclink/dist/daemon/src/bin/soclinkd.js /usr/local/bin/soclinkd \
 && ln -s /opt/soclink/dist/client/src/bin/soclink.js /usr/local/bin/soclink
# In a container the daemon listens on every address (loopback is the default
# outside one); logs are JSON on stdout.
ENV NODE_ENV=production \
    SOCLINK_LISTEN=0.0.0.0:7400 \
    SOCLINK_API=0.0.0.0:7401
USER node
EXPOSE 7400 7401
# GET /healthz on this daemon's own control API, found from its settings
# (SOCLINK_API; an unspecified host is asked on loopback), over https with
# the CA when it has TLS, with a token when its API takes tokens
# (soclinkd --help: --health-check).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["soclinkd", "--health-check"]
ENTRYPOINT ["soclinkd"]
