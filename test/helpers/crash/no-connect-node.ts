/**
 * What the crash-test child's bundle (./child-bundle.ts) gets for `@connectrpc/connect-node`: the
 * child speaks REST only, so it never makes a gRPC or Connect transport, and leaving the package
 * out (with Node's `http2`, which only it loads) saves each child's start about 8 ms of CPU. A
 * child that did ask for one fails loudly.
 */

function unavailable(): never {
  throw new Error(
    "the crash-test child speaks REST only: @connectrpc/connect-node is left out of its bundle",
  );
}

export const createConnectTransport = unavailable;
export const createGrpcTransport = unavailable;
export const createNodeHttpClient = unavailable;

export class Http2SessionManager {
  constructor() {
    unavailable();
  }
}
