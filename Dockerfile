# Observatory: `observatory serve` (default) or `observatory worker`, and the example inference service.
# The build stage compiles every workspace to JavaScript; the runtime has that dist/ and the production
# dependencies only: no TypeScript sources and no tsx.

FROM node:24.19.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.build.base.json tsconfig.build.json ./
COPY semconv/ semconv/
COPY exporter-postgres/ exporter-postgres/
COPY instrumentation/ instrumentation/
COPY query-api/ query-api/
COPY examples/ examples/
# npm ci runs the root prepare script, which builds every workspace into its dist/ (it needs the dev
# dependencies); prune then leaves the production ones, and the sources go, so the CLI runs dist/.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf semconv/src exporter-postgres/src instrumentation/src query-api/src examples/*/src

FROM node:24.19.0-bookworm-slim AS runtime
ENV NODE_ENV=production \
    OBSERVATORY_DATA_DIR=/var/lib/observatory \
    PORT=4318 \
    HOST=0.0.0.0
WORKDIR /app
COPY migrations/ migrations/
COPY --from=build /app/ ./
# The data directory holds spill files and export files: it must survive restarts, hence a volume.
RUN mkdir -p /var/lib/observatory && chown node:node /var/lib/observatory
USER node
VOLUME ["/var/lib/observatory"]
EXPOSE 4318
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4318)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "query-api/bin/observatory.mjs"]
CMD ["serve"]
