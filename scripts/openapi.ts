// Prints the gateway's OpenAPI document (auth on, as deployed): `bun scripts/openapi.ts > clients/typescript/openapi.json`.
import pkg from "../package.json" with { type: "json" };
import { PUBLIC_API } from "../src/roles/catalog.ts";
import { gatewayOpenApiDocument } from "../src/roles/gateway/openapi.ts";

process.stdout.write(`${JSON.stringify(gatewayOpenApiDocument(PUBLIC_API, pkg.version, true), null, 2)}\n`);
