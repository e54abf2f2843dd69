// One helper for every checked-out client, the ingest writer's included: it lives beside the writer.
export { type CheckedOutClient, checkout } from '@observatory/exporter-postgres';
