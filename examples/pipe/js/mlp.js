// An MLP with hand-written backprop in JavaScript, checked by refbp over a pipe (docs/formats.md section 11):
//
//     refbp check --cmd "node examples/pipe/js/mlp.js"
//
// Forward, loss, backward (every layer's dL/dout and dL/dnet on the way down) and training (SGD with
// momentum, Adam; weight decay; frozen tensors), on plain arrays of rows, in double precision.
// mlp_tanh_on_net.js is the copy with one injected bug.
'use strict';
const {serve, tensor} = require('./pipe');

const sigmoid = (z) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
const FUNCTIONS = {
  identity: (z) => z,
  sigmoid,
  tanh: Math.tanh,
  relu: (z) => (z > 0 ? z : 0),
  leaky_relu: (z) => (z > 0 ? z : 0.01 * z),
  elu: (z) => (z > 0 ? z : Math.expm1(z)),
  softplus: (z) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z))),
};
const SLOPES = {  // f'(z), from the pre-activation z
  identity: () => 1,
  sigmoid: (z) => sigmoid(z) * sigmoid(-z),
  tanh: (z) => 1 / Math.cosh(z) ** 2,
  relu: (z) => (z > 0 ? 1 : 0),
  leaky_relu: (z) => (z > 0 ? 1 : 0.01),
  elu: (z) => (z > 0 ? 1 : Math.exp(z)),
  softplus: sigmoid,
};

const zerosLike = (m) => m.map((row) => (Array.isArray(row) ? row.map(() => 0) : 0));
const logSumExp = (row) => { const top = Math.max(...row); return top + Math.log(row.reduce((s, z) => s + Math.exp(z - top), 0)); };

class MLP {
  constructor(c) {
    this.activations = c.network.activations;
    this.bias = c.network.bias !== false;
    this.loss = c.loss;
    this.train = c.train || null;
    this.slopes = SLOPES;
  }

  layers(params, x) {  // {nets, outs}: outs[0] is the input
    const nets = [], outs = [x];
    this.activations.forEach((name, l) => {
      const w = params[`layers.${l}.weight`], b = params[`layers.${l}.bias`];
      const z = outs[l].map((row) => w.map((wo, o) => wo.reduce((s, wk, k) => s + wk * row[k], this.bias ? b[o] : 0)));
      nets.push(z);
      outs.push(name === 'softmax' ? z.map((r) => { const lse = logSumExp(r); return r.map((v) => Math.exp(v - lse)); })
        : z.map((r) => r.map(FUNCTIONS[name])));
    });
    return {nets, outs};
  }

  lossAndSlope(y, t) {  // [the loss, dL/dy]
    const size = y.length * y[0].length;
    if (this.loss === 'cross_entropy') {  // on logits; targets are class indices or probabilities
      const B = y.length;
      let total = 0;
      const dy = y.map((row, i) => {
        const p = Array.isArray(t[i]) ? t[i] : row.map((_, o) => (o === t[i] ? 1 : 0));
        const mass = p.reduce((a, b) => a + b, 0), lse = logSumExp(row);
        return row.map((z, o) => { total -= (p[o] * (z - lse)) / B; return (Math.exp(z - lse) * mass - p[o]) / B; });
      });
      return [total, dy];
    }
    let total = 0;
    const dy = y.map((row, i) => row.map((v, o) => {
      const d = v - t[i][o];
      switch (this.loss) {
        case 'half_sse': total += 0.5 * d * d; return d;
        case 'sse': total += d * d; return 2 * d;
        case 'mse': total += (d * d) / size; return (2 * d) / size;
        default: {  // bce, with torch's clamp of the logarithms at -100
          const ly = Math.max(Math.log(v), -100), lny = Math.max(Math.log(1 - v), -100);
          total -= (t[i][o] * ly + (1 - t[i][o]) * lny) / size;
          return d / Math.max(v * (1 - v), 1e-12) / size;
        }
      }
    }));
    return [total, dy];
  }

  lossAt(params, x, t) { const {outs} = this.layers(params, x); return this.lossAndSlope(outs[outs.length - 1], t)[0]; }

  backward(params, x, t) {  // {grads, signals}
    const {nets, outs} = this.layers(params, x);
    let up = this.lossAndSlope(outs[outs.length - 1], t)[1];
    const grads = {}, signals = {};
    for (let l = this.activations.length - 1; l >= 0; l--) {
      const name = this.activations[l], w = params[`layers.${l}.weight`];
      const delta = name === 'softmax'
        ? up.map((u, i) => { const s = outs[l + 1][i], dot = u.reduce((a, v, o) => a + v * s[o], 0); return s.map((so, o) => so * (u[o] - dot)); })
        : up.map((u, i) => u.map((v, o) => v * this.slopes[name](nets[l][i][o])));
      signals[`layers.${l}.grad_out`] = up;
      signals[`layers.${l}.grad_net`] = delta;
      grads[`layers.${l}.weight`] = w.map((_, o) => outs[l][0].map((__, k) => delta.reduce((s, d, i) => s + d[o] * outs[l][i][k], 0)));
      if (this.bias) grads[`layers.${l}.bias`] = w.map((_, o) => delta.reduce((s, d) => s + d[o], 0));
      up = delta.map((d) => w[0].map((__, k) => d.reduce((s, v, o) => s + v * w[o][k], 0)));
    }
    return {grads, signals};
  }

  trained(params, x, t) {  // torch.optim's SGD (momentum) and Adam, with weight decay and frozen tensors
    const spec = this.train, frozen = new Set(spec.frozen || []);
    const [b1, b2] = spec.betas || [0.9, 0.999], eps = spec.eps ?? 1e-8, decay = spec.weight_decay ?? 0;
    const momentum = spec.momentum ?? 0, state = {};
    params = JSON.parse(JSON.stringify(params));
    for (let step = 1; step <= (spec.steps ?? 1); step++) {
      const {grads} = this.backward(params, x, t);
      for (const name of Object.keys(params)) {
        if (frozen.has(name)) continue;
        const update = (p, g, path) => {
          if (Array.isArray(p)) return p.map((v, i) => update(v, g[i], `${path}.${i}`));
          let gj = g + decay * p;
          if (spec.optimizer === 'sgd') {
            if (momentum) gj = state[path] = path in state ? momentum * state[path] + gj : gj;
            return p - spec.lr * gj;
          }
          const [m0, v0] = state[path] || [0, 0];
          const m = b1 * m0 + (1 - b1) * gj, v = b2 * v0 + (1 - b2) * gj * gj;
          state[path] = [m, v];
          return p - (spec.lr / (1 - b1 ** step)) * m / (Math.sqrt(v) / Math.sqrt(1 - b2 ** step) + eps);
        };
        params[name] = update(params[name], grads[name], name);
      }
    }
    return params;
  }
}

function evaluate(request, c) {
  if (c.network.kind !== 'mlp') return null;
  const mlp = new MLP(c), want = new Set(request.want), x = c.inputs, t = c.targets, p = c.params;
  const answer = {};
  const {nets, outs} = mlp.layers(p, x);
  const y = outs[outs.length - 1];
  if (want.has('outputs')) answer.outputs = y;
  if (want.has('loss')) answer.loss = mlp.lossAndSlope(y, t)[0];
  if (want.has('grads') || want.has('error_signals')) {
    const {grads, signals} = mlp.backward(p, x, t);
    if (want.has('grads')) answer.grads = grads;
    if (want.has('error_signals')) answer.error_signals = signals;
  }
  if (want.has('intermediates')) {
    answer.intermediates = {};
    nets.forEach((z, l) => { answer.intermediates[`layers.${l}.net`] = z; answer.intermediates[`layers.${l}.out`] = outs[l + 1]; });
  }
  if (want.has('train') && mlp.train) {
    answer.params_after = mlp.trained(p, x, t);
    answer.loss_after = mlp.lossAt(answer.params_after, x, t);
  }
  if (want.has('losses')) answer.losses = request.params_list.map((q) => mlp.lossAt(readParams(q), x, t));
  return answer;
}

// `layer` requests (docs/formats.md section 12): one function at a time, weights (out, in) as torch's.
// The gradients are those of <output, upstream>: a loss's dL/dx times its one upstream number.
const LAYERS = ['affine', ...Object.keys(FUNCTIONS), 'softmax', 'half_sse', 'sse', 'mse', 'bce', 'cross_entropy',
  'softmax_cross_entropy'];
function layer(request, t) {
  const f = request.function, x = t.x, up = t.upstream, grads = request.want.includes('grads');
  if (f === 'affine') {
    const output = x.map((row) => t.w.map((wo, o) => wo.reduce((s, wk, k) => s + wk * row[k], t.b[o])));
    return !grads ? {output} : {output, grads: {
      x: up.map((u) => t.w[0].map((_, k) => u.reduce((s, v, o) => s + v * t.w[o][k], 0))),
      w: t.w.map((_, o) => x[0].map((__, k) => up.reduce((s, u, i) => s + u[o] * x[i][k], 0))),
      b: t.b.map((_, o) => up.reduce((s, u) => s + u[o], 0))}};
  }
  if (f === 'softmax' || f in FUNCTIONS) {
    const output = f === 'softmax' ? x.map((r) => { const lse = logSumExp(r); return r.map((v) => Math.exp(v - lse)); })
      : x.map((r) => r.map(FUNCTIONS[f]));
    if (!grads) return {output};
    const dx = f === 'softmax'
      ? up.map((u, i) => { const s = output[i], dot = u.reduce((a, v, o) => a + v * s[o], 0); return s.map((so, o) => so * (u[o] - dot)); })
      : up.map((u, i) => u.map((v, o) => v * SLOPES[f](x[i][o])));
    return {output, grads: {x: dx}};
  }
  const [output, dy] = new MLP({network: {activations: []}, loss: f.replace('softmax_', '')}).lossAndSlope(x, t.y);
  return !grads ? {output} : {output, grads: {x: dy.map((row) => row.map((v) => v * up))}};
}

const readParams = (q) => Object.fromEntries(Object.entries(q).map(([k, v]) => [k, tensor(v)]));

module.exports = {LAYERS, MLP, SLOPES, evaluate, layer};

if (require.main === module) {
  serve({
    hello: {name: 'js-mlp', version: '1.0', kinds: ['mlp'], dtypes: ['float64', 'float32'],
      quantities: ['outputs', 'loss', 'grads', 'intermediates', 'error_signals', 'train', 'losses'],
      layers: LAYERS, layout: 'out_in'},
    evaluate,
    layer,
  });
}
