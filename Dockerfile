# Observatory: `observatory serve` (default) or `observatory worker`, and the example inference service.
# The service runs its TypeScript sources through tsx (a runtime dependency of query-api): no build step.

FROM node:20.19.4-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY exporter-postgres/package.json exporter-postgres/
COPY instrumentation/package.json instrumentation/
COPY query-api/package.json query-api/
COPY examples/ examples/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:20.19.4-bookworm-slim AS runtime
ENV NODE_ENV=production \
    OBSERVATORY_DATA_DIR=/var/lib/observatory \
    PORT=4318 \
    HOST=0.0.0.0
WORKDIR /app
COPY exporter-postgres/ exporter-postgres/
COPY instrumentation/ instrumentation/
COPY query-api/ query-api/
COPY migrations/ migrations/
# Last, so the installed tree (root and any nested workspace node_modules, the example) lands whole.
COPY --from=deps /app/ ./
# The data directory holds spill files and export files: it must survive restarts, hence a volume.
RUN mkdir -p /var/lib/observatory && chown node:node /var/lib/observatory
USER node
VOLUME ["/var/lib/observatory"]
EXPOSE 4318
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=5 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||4318)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "query-api/bin/observatory.mjs"]
CMD ["serve"]
