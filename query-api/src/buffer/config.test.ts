import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';

describe('OBSERVATORY_INGEST_BUFFER', () => {
  it('is off by default', () => {
    expect(loadConfig({}).OBSERVATORY_INGEST_BUFFER).toBeUndefined();
  });

  it('takes several NATS servers, comma-separated', () => {
    const config = loadConfig({ OBSERVATORY_INGEST_BUFFER: 'nats://a:4222, nats://b:4222,tls://c:4222' });
    expect(config.OBSERVATORY_INGEST_BUFFER).toEqual(['nats://a:4222', 'nats://b:4222', 'tls://c:4222']);
  });

  it('refuses anything but nats:// or tls:// servers, naming the variable', () => {
    expect(() => loadConfig({ OBSERVATORY_INGEST_BUFFER: 'http://a:4222' })).toThrow(
      /OBSERVATORY_INGEST_BUFFER/,
    );
    expect(() => loadConfig({ OBSERVATORY_INGEST_BUFFER_REPLICAS: '7' })).toThrow(
      /OBSERVATORY_INGEST_BUFFER_REPLICAS/,
    );
  });
});
