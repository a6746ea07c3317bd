// The differential tests' reference: Node's own HTTP/1.1 parser (llhttp) behind node:http,
// answering as the raw front's echo handler does. Prints its port on stdout.
import http from "node:http";

const server = http.createServer({ keepAliveTimeout: 60_000, requireHostHeader: true }, (req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("latin1");
    const out = JSON.stringify({ method: req.method, path: req.url, body });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(out) });
    res.end(out);
  });
  req.on("error", () => res.destroy());
});
// node's default answer to a parse error destroys the socket at once, losing the answers to the
// requests before it on the same connection (they are answered a tick later); wait for those first
server.on("clientError", (err, socket) => {
  setTimeout(() => {
    if (socket.writable) socket.end(`HTTP/1.1 ${err.code === "HPE_HEADER_OVERFLOW" ? 431 : 400} Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    else socket.destroy();
  }, 20);
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${server.address().port}\n`);
});
