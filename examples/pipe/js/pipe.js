// refbp-pipe/1 in Node (docs/formats.md section 11): one JSON request a line on stdin, one answer a
// line on stdout. The part to copy: serve({hello, evaluate, layer}) runs the loop; evaluate(request, c)
// returns the answer's fields ({outputs, loss, grads, ...}), or null for a case it does not support;
// layer(request, inputs) (optional, section 12) returns {output, grads} of a `layer` request, its
// arrays (inputs by name, and inputs.upstream) as nested lists; what either throws becomes an `error`
// message (that case fails, the run goes on).
'use strict';
const readline = require('readline');

const PROTOCOL = 'refbp-pipe/1';
const write = process.stdout.write.bind(process.stdout);
console.log = console.error;  // anything printed goes to stderr: stdout carries the answers only

// An array of the request (nested lists, or base64 of little-endian float64/float32) as nested lists.
function tensor(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const bytes = Buffer.from(value.base64, 'base64');
  const size = value.dtype === 'float32' ? 4 : 8;
  const flat = [];
  for (let i = 0; i < bytes.length; i += size) flat.push(size === 4 ? bytes.readFloatLE(i) : bytes.readDoubleLE(i));
  const shape = value.shape;
  const nest = (offset, axis) => {
    if (axis === shape.length) return flat[offset];
    const stride = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    return Array.from({length: shape[axis]}, (_, i) => nest(offset + i * stride, axis + 1));
  };
  return nest(0, 0);
}

// The case of a request with every array as nested lists.
function readCase(request) {
  const c = Object.assign({}, request.case);
  c.params = Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, tensor(v)]));
  for (const key of ['inputs', 'targets', 'h0']) if (c[key] !== undefined) c[key] = tensor(c[key]);
  return c;
}

// JSON.stringify writes NaN and Infinity as null: refbp reads null as NaN (a failed check, as it should be).
// The inputs of a `layer` request as nested lists, and its upstream gradient (absent: the output alone).
function readLayer(request) {
  const inputs = Object.fromEntries(Object.entries(request.inputs).map(([k, v]) => [k, tensor(v)]));
  if (request.upstream !== undefined) inputs.upstream = tensor(request.upstream);
  return inputs;
}

function serve({hello, evaluate, layer}) {
  const lines = readline.createInterface({input: process.stdin, crlfDelay: Infinity});
  lines.on('line', (line) => {
    const request = JSON.parse(line);
    let reply;
    if (request.type === 'hello') {
      reply = Object.assign({type: 'hello', protocol: PROTOCOL}, hello);
    } else {
      try {
        const fields = request.type === 'layer' ? layer(request, readLayer(request)) : evaluate(request, readCase(request));
        reply = fields === null ? {type: 'unsupported', message: 'not supported'} : Object.assign({type: 'answer'}, fields);
      } catch (error) {
        reply = {type: 'error', message: String((error && error.message) || error)};
      }
    }
    reply.id = request.id;
    write(JSON.stringify(reply) + '\n');
  });
}

module.exports = {PROTOCOL, readCase, readLayer, serve, tensor};
