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
# GET /healthz on the API that SOCLINK_API names (HOST:PORT; an unspecified
# host is reached on loopback). node, since the slim image has no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["node", "-e", "const a=process.env.SOCLINK_API||'127.0.0.1:7401',i=a.lastIndexOf(':'),h=a.slice(0,i).replace('[','').replace(']',''),u=['','0.0.0.0','::'].includes(h)?'127.0.0.1':h.includes(':')?'['+h+']':h;fetch('http://'+u+':'+a.slice(i+1)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["soclinkd"]
