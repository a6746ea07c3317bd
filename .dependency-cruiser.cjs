/**
 * Layer rules for src/ (docs/architecture.md "Layers"). Run by tests/unit/layers.test.ts.
 * Known violations that are still to be removed are listed in .dependency-cruiser-known-violations.json;
 * a new one fails the test.
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "A cycle makes two modules one: neither can be read, tested or changed alone.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "shared-never-imports-a-role",
      severity: "error",
      comment: "Roles wire shared parts; a shared part that knows a role cannot serve another.",
      from: { path: "^src/", pathNot: "^src/(roles/|main\\.ts$|cli\\.ts$)" },
      to: { path: "^src/roles/" },
    },
    {
      name: "roles-do-not-import-each-other",
      severity: "error",
      comment: "A role talks to another over the wire (gRPC, HTTP), never through its modules.",
      from: { path: "^src/roles/([^/]+)/" },
      to: { path: "^src/roles/", pathNot: "^src/roles/$1/" },
    },
    {
      name: "domain-is-pure",
      severity: "error",
      comment: "The domain knows no transport, storage, platform or library besides valibot.",
      from: { path: "^src/domain/" },
      to: { pathNot: ["^src/domain/", "^src/core/", "node_modules/valibot/"] },
    },
    {
      name: "core-is-the-bottom",
      severity: "error",
      comment: "src/core (errors with codes, clock, logger) depends on nothing of ours and no library: no gRPC, no HTTP framework.",
      from: { path: "^src/core/" },
      to: { path: "^src/|node_modules/", pathNot: "^src/core/" },
    },
    {
      name: "http1-is-a-library",
      severity: "error",
      comment: "The HTTP/1.1 code stands alone: its own errors, no platform, telemetry or resilience.",
      from: { path: "^src/transport/http1/" },
      to: { path: "^src/|node_modules/@grpc/", pathNot: "^src/transport/http1/" },
    },
    {
      name: "platform-below-transport-and-telemetry",
      severity: "error",
      comment: "platform (servers, lifecycle, errors) sits under transport and telemetry, not beside them.",
      from: { path: "^src/platform/" },
      to: { path: "^src/(transport|telemetry|roles)/" },
    },
    {
      name: "resilience-balancing-discovery-stay-low",
      severity: "error",
      comment: "Policies, balancers and discovery are used by transports and roles, never the reverse.",
      from: { path: "^src/(resilience|balancing|discovery)/" },
      to: { path: "^src/(transport|roles|platform/(http|grpc|http-app|serve)\\.ts)" },
    },
    {
      name: "roles-take-shared-state-from-main",
      severity: "error",
      comment:
        "Balancers (with their health checkers) and the resilience registry are built once in main.ts and handed down in RoleContext; a role that builds its own probes the same instances twice under --role=all.",
      from: { path: "^src/roles/" },
      to: { path: "^src/(balancing/service-balancers|resilience/registry)\\.ts$", dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    exclude: { path: "\\.(sql|proto|yaml)$" },
  },
};
