# syntax=docker/dockerfile:1
# facefleet on CPU: `facefleet worker` by default, any other command as arguments.
#
#   docker build -t facefleet:0.1.0 .
#   docker run --rm -e REDIS_URL=redis://redis:6379 facefleet:0.1.0            # a worker
#   docker run --rm facefleet:0.1.0 enqueue --help
#
# Runs as uid/gid 10001 with a read-only-friendly layout: code in /app, the RetinaFace and BlazeFace models pulled at
# build time into /opt/facefleet/models. The Helm chart (charts/facefleet) mounts an emptyDir on /tmp and
# on its model cache and seeds the cache from /opt/facefleet/models. The image ships the product only:
# `facefleet bench` and `facefleet chaos` are tooling and say they need a source checkout.
ARG NODE_IMAGE=node:20-bookworm-slim

# Build: compile the product's TypeScript (tsconfig.json: src, workers, producer; tools/ and test/ are
# not in the build context) with the dev dependencies, and pull and verify the default model.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# npm before 11 ignores package.json's allowScripts: keep onnxruntime-node's installer from
# downloading CUDA binaries a CPU image does not use.
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY producer ./producer
COPY bin ./bin
COPY models ./models
RUN npx tsc -p tsconfig.json \
 && FACEFLEET_MODEL_CACHE=/opt/facefleet/models node bin/facefleet.js models pull retinaface \
 && FACEFLEET_MODEL_CACHE=/opt/facefleet/models node bin/facefleet.js models pull blazeface

# Production dependencies only.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
RUN groupadd --system --gid 10001 facefleet \
 && useradd --system --uid 10001 --gid 10001 --home-dir /tmp --no-create-home --shell /usr/sbin/nologin facefleet
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/workers ./dist/workers
COPY --from=build /app/dist/producer ./dist/producer
COPY --from=build /opt/facefleet/models /opt/facefleet/models
COPY package.json ./
COPY bin ./bin
COPY models ./models
COPY src/console ./src/console
ENV NODE_ENV=production \
    FACEFLEET_MODEL_CACHE=/opt/facefleet/models \
    MALLOC_ARENA_MAX=2
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["node", "/app/bin/facefleet.js"]
CMD ["worker"]
