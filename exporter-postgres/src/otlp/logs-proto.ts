import protobuf from 'protobufjs';
import { COMMON_MESSAGES } from './common-proto.ts';

/**
 * The subset of opentelemetry-proto (logs/v1, collector/logs/v1) the receiver reads, with the specification's field
 * numbers. Fields not listed here (dropped counts, schema urls) are skipped by the decoder like any unknown field.
 */
const descriptor = {
  nested: {
    otlp: {
      nested: {
        ExportLogsServiceRequest: {
          fields: { resourceLogs: { rule: 'repeated', type: 'ResourceLogs', id: 1 } },
        },
        ExportLogsServiceResponse: {
          fields: { partialSuccess: { type: 'ExportLogsPartialSuccess', id: 1 } },
        },
        ExportLogsPartialSuccess: {
          fields: {
            rejectedLogRecords: { type: 'int64', id: 1 },
            errorMessage: { type: 'string', id: 2 },
          },
        },
        ResourceLogs: {
          fields: {
            resource: { type: 'Resource', id: 1 },
            scopeLogs: { rule: 'repeated', type: 'ScopeLogs', id: 2 },
          },
        },
        ScopeLogs: {
          fields: {
            scope: { type: 'InstrumentationScope', id: 1 },
            logRecords: { rule: 'repeated', type: 'LogRecord', id: 2 },
          },
        },
        LogRecord: {
          fields: {
            timeUnixNano: { type: 'fixed64', id: 1 },
            severityNumber: { type: 'int32', id: 2 },
            severityText: { type: 'string', id: 3 },
            body: { type: 'AnyValue', id: 5 },
            attributes: { rule: 'repeated', type: 'KeyValue', id: 6 },
            flags: { type: 'fixed32', id: 8 },
            traceId: { type: 'bytes', id: 9 },
            spanId: { type: 'bytes', id: 10 },
            observedTimeUnixNano: { type: 'fixed64', id: 11 },
            eventName: { type: 'string', id: 12 },
          },
        },
        ...COMMON_MESSAGES,
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
export const ExportLogsServiceRequest = root.lookupType('otlp.ExportLogsServiceRequest');
export const ExportLogsServiceResponse = root.lookupType('otlp.ExportLogsServiceResponse');
