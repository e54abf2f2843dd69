import protobuf from 'protobufjs';

/** The ExportLogsServiceResponse of opentelemetry-proto (collector/logs/v1), which the receiver answers with. */
const root = protobuf.Root.fromJSON({
  nested: {
    otlp: {
      nested: {
        ExportLogsServiceResponse: {
          fields: { partialSuccess: { type: 'ExportLogsPartialSuccess', id: 1 } },
        },
        ExportLogsPartialSuccess: {
          fields: {
            rejectedLogRecords: { type: 'int64', id: 1 },
            errorMessage: { type: 'string', id: 2 },
          },
        },
      },
    },
  },
});
export const ExportLogsServiceResponse = root.lookupType('otlp.ExportLogsServiceResponse');
