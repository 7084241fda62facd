// Preloaded into a CLI child (NODE_OPTIONS=--require) by tests that must not touch the network:
// every TCP connect and fetch fails, and leaves a marker on stderr the test looks for. Local IPC
// (a Unix socket path, as tsx uses) is allowed.
const net = require('node:net');

const MARKER = 'NETWORK USE ATTEMPTED';
function forbid(what) {
  process.stderr.write(`${MARKER}: ${what}\n`);
  return new Error(`${MARKER}: ${what}`);
}
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function guardedConnect(...args) {
  const [first] = args;
  const target = Array.isArray(first) ? first[0] : first;
  const localPath =
    (typeof target === 'object' && target !== null && typeof target.path === 'string') ||
    (typeof target === 'string' && Number.isNaN(Number(target)));
  if (localPath) return connect.apply(this, args);
  throw forbid(`TCP connect ${JSON.stringify(target)}`);
};
globalThis.fetch = function fetch(input) {
  return Promise.reject(forbid(`fetch ${String(input)}`));
};
