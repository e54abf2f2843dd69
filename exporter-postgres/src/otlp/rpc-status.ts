import protobuf from 'protobufjs';

/** google.rpc.Status (googleapis/google/rpc/status.proto), the error body OTLP/HTTP prescribes for protobuf requests. */
const root = protobuf.Root.fromJSON({
  nested: {
    google: {
      nested: {
        rpc: {
          nested: {
            Status: {
              fields: {
                code: { type: 'int32', id: 1 },
                message: { type: 'string', id: 2 },
                details: { rule: 'repeated', type: 'Any', id: 3 },
              },
            },
            Any: { fields: { type_url: { type: 'string', id: 1 }, value: { type: 'bytes', id: 2 } } },
          },
        },
      },
    },
  },
});
export const RpcStatus = root.lookupType('google.rpc.Status');

// The gRPC code an HTTP status stands for (the mapping of grpc/doc/http-grpc-status-mapping.md, inverted).
const GRPC_CODES: Record<number, number> = {
  400: 3, // INVALID_ARGUMENT
  401: 16, // UNAUTHENTICATED
  403: 7, // PERMISSION_DENIED
  404: 5, // NOT_FOUND
  413: 8, // RESOURCE_EXHAUSTED
  415: 3, // INVALID_ARGUMENT
  429: 8, // RESOURCE_EXHAUSTED
  503: 14, // UNAVAILABLE
};
const UNKNOWN = 2;
const INTERNAL = 13;

/** An HTTP error as a protobuf-encoded google.rpc.Status: the gRPC code of `httpStatus` and the message. */
export function encodeRpcStatus(httpStatus: number, message: string): Uint8Array {
  const code = GRPC_CODES[httpStatus] ?? (httpStatus >= 500 ? INTERNAL : UNKNOWN);
  return RpcStatus.encode(RpcStatus.create({ code, message })).finish();
}
