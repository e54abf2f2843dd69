/**
 * opentelemetry-proto's common/v1 and resource/v1 messages the receiver reads (specification field numbers),
 * shared by the trace and logs descriptors.
 */
export const COMMON_MESSAGES = {
  Resource: { fields: { attributes: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
  InstrumentationScope: {
    fields: { name: { type: 'string', id: 1 }, version: { type: 'string', id: 2 } },
  },
  KeyValue: { fields: { key: { type: 'string', id: 1 }, value: { type: 'AnyValue', id: 2 } } },
  AnyValue: {
    oneofs: {
      value: {
        oneof: [
          'stringValue',
          'boolValue',
          'intValue',
          'doubleValue',
          'arrayValue',
          'kvlistValue',
          'bytesValue',
        ],
      },
    },
    fields: {
      stringValue: { type: 'string', id: 1 },
      boolValue: { type: 'bool', id: 2 },
      intValue: { type: 'int64', id: 3 },
      doubleValue: { type: 'double', id: 4 },
      arrayValue: { type: 'ArrayValue', id: 5 },
      kvlistValue: { type: 'KeyValueList', id: 6 },
      bytesValue: { type: 'bytes', id: 7 },
    },
  },
  ArrayValue: { fields: { values: { rule: 'repeated', type: 'AnyValue', id: 1 } } },
  KeyValueList: { fields: { values: { rule: 'repeated', type: 'KeyValue', id: 1 } } },
};
