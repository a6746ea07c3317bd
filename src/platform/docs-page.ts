/** A self-contained page for an OpenAPI document: every operation with its inputs, answers and links; no script, no CDN. */
type Json = Record<string, unknown>;

const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const code = (s: unknown) => `<code>${esc(s)}</code>`;
const pretty = (schema: unknown) => `<pre>${esc(JSON.stringify(schema, null, 2))}</pre>`;

function resolve(doc: Json, node: unknown): Json {
  const ref = (node as { $ref?: string } | undefined)?.$ref;
  if (!ref) return (node ?? {}) as Json;
  return ref.slice(2).split("/").reduce<Json>((at, k) => (at[k] ?? {}) as Json, doc);
}

function parameters(op: Json): string {
  const params = (op.parameters ?? []) as Json[];
  if (!params.length) return "";
  const rows = params.map((p) => `<tr><td>${code(p.name)}</td><td>${esc(p.in)}${p.required ? " · required" : ""}</td><td>${pretty(p.schema)}</td></tr>`).join("");
  return `<h4>Parameters</h4><table>${rows}</table>`;
}

function body(op: Json): string {
  const rb = op.requestBody as Json | undefined;
  if (!rb) return "";
  const content = rb.content as Record<string, Json>;
  return `<h4>Body${rb.required ? " (required)" : " (optional)"}</h4>${Object.entries(content).map(([type, c]) => `<p>${code(type)}</p>${pretty(c.schema)}`).join("")}`;
}

function responses(doc: Json, op: Json): string {
  const rows = Object.entries(op.responses as Json).map(([status, raw]) => {
    const r = resolve(doc, raw);
    const content = (r.content ?? {}) as Record<string, Json>;
    const schemas = Object.entries(content).map(([type, c]) => `<details><summary>${code(type)}</summary>${pretty(c.schema ?? {})}</details>`).join("");
    const links = Object.entries((r.links ?? {}) as Record<string, Json>)
      .map(([name, l]) => `<li>${esc(name)} → <a href="#${esc(l.operationId)}">${esc(l.operationId)}</a> ${code(JSON.stringify(l.parameters ?? {}))}</li>`)
      .join("");
    return `<tr><td><b>${esc(status)}</b></td><td>${esc(r.description ?? "")}${schemas}${links ? `<ul>${links}</ul>` : ""}</td></tr>`;
  });
  return `<h4>Responses</h4><table>${rows.join("")}</table>`;
}

export function docsPage(doc: Json): string {
  const info = doc.info as { title: string; version: string; description?: string };
  const paths = doc.paths as Record<string, Record<string, Json>>;
  const ops = Object.entries(paths).flatMap(([path, byMethod]) => Object.entries(byMethod).map(([method, op]) => ({ path, method, op })));
  const tags = [...new Set(ops.map((o) => (o.op.tags as string[])[0]!))];
  const open = (op: Json) => Array.isArray(op.security) && op.security.length === 0;
  const index = tags
    .map((t) => `<h3>${esc(t)}</h3><ul>${ops.filter((o) => (o.op.tags as string[])[0] === t).map((o) => `<li><a href="#${esc(o.op.operationId)}">${code(o.method.toUpperCase())} ${code(o.path)}</a> ${esc(o.op.summary)}</li>`).join("")}</ul>`)
    .join("");
  const sections = ops
    .map(({ path, method, op }) => `<section id="${esc(op.operationId)}"><h2>${code(method.toUpperCase())} ${code(path)}</h2><p>${esc(op.summary)} · operationId ${code(op.operationId)}${open(op) ? " · open" : " · bearer token"}</p>${parameters(op)}${body(op)}${responses(doc, op)}</section>`)
    .join("\n");
  const secured = ops.some(({ op }) => !open(op));
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(info.title)} ${esc(info.version)}</title>
<style>body{font:15px system-ui;margin:2em;max-width:80em}td{padding:.3em .8em;border-bottom:1px solid #ddd;vertical-align:top}code{background:#f4f4f4;padding:0 .2em}pre{background:#f8f8f8;padding:.5em;overflow:auto;max-height:30em;margin:.3em 0}section{border-top:2px solid #ccc;margin-top:2em}</style></head>
<body><h1>${esc(info.title)} <small>${esc(info.version)}</small></h1>
${info.description ? `<p>${esc(info.description)}</p>` : ""}
${secured ? "<p>Calls other than the open ones need <code>Authorization: Bearer &lt;jwt&gt;</code> (mint one with <code>bpm token --sub=USER</code>).</p>" : ""}
<p>Errors are <code>{"error","code","correlation_id"}</code> (plus <code>details</code> on 400/422, <code>retryAfter</code> on 429/503). Machine-readable: <a href="/openapi.json">/openapi.json</a>.</p>
${index}
${sections}
</body></html>`;
}
