// Attribute names from the OpenTelemetry semantic conventions (stable HTTP/RPC/DB names as of semconv 1.3x).
// Kept as constants here rather than importing @opentelemetry/semantic-conventions, which bpm does not depend on.
export const ATTR_HTTP_REQUEST_METHOD = "http.request.method";
export const ATTR_HTTP_RESPONSE_STATUS_CODE = "http.response.status_code";
export const ATTR_HTTP_ROUTE = "http.route";
export const ATTR_HTTP_REQUEST_RESEND_COUNT = "http.request.resend_count";
export const ATTR_URL_PATH = "url.path";
export const ATTR_URL_SCHEME = "url.scheme";
export const ATTR_URL_FULL = "url.full";
export const ATTR_SERVER_ADDRESS = "server.address";
export const ATTR_SERVER_PORT = "server.port";
export const ATTR_CLIENT_ADDRESS = "client.address";
export const ATTR_USER_AGENT_ORIGINAL = "user_agent.original";
export const ATTR_ERROR_TYPE = "error.type";
export const ATTR_PEER_SERVICE = "peer.service";

export const ATTR_RPC_SYSTEM = "rpc.system";
export const ATTR_RPC_SERVICE = "rpc.service";
export const ATTR_RPC_METHOD = "rpc.method";
export const ATTR_RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code";

/** Both the stable name and the older one Jaeger's UI and most dashboards still key on. */
export const ATTR_DB_SYSTEM_NAME = "db.system.name";
export const ATTR_DB_SYSTEM = "db.system";
export const ATTR_DB_OPERATION_NAME = "db.operation.name";
export const ATTR_DB_COLLECTION_NAME = "db.collection.name";
export const ATTR_DB_NAMESPACE = "db.namespace";

export const ATTR_SERVICE_NAME = "service.name";
export const ATTR_SERVICE_VERSION = "service.version";
export const ATTR_SERVICE_INSTANCE_ID = "service.instance.id";

/** bpm's own: lets Jaeger find a trace by the id users see in error bodies and logs. */
export const ATTR_CORRELATION_ID = "bpm.correlation_id";
export const ATTR_ROLE = "bpm.role";
export const ATTR_UPSTREAM_INSTANCE = "bpm.upstream.instance_id";
