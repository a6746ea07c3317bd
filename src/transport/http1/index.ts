export { Http1Client, HTTP1_CLIENT_DEFAULTS } from "./client.ts";
export { RequestBodyError } from "./errors.ts";
export type { Http1Body, Http1ClientOptions, Http1ClientStats, Http1ClientTls, Http1Headers, Http1RequestInit, Http1Target } from "./types.ts";
export { WireFields, WireResponse } from "./wire-response.ts";
