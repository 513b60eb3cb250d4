// mlp.js with one injected bug, for refbp to catch and diagnose: tanh's slope taken from net,
// 1 - net^2, where the chain rule needs 1 - out^2 (1 / cosh(net)^2).
//
//     refbp check --cmd "node examples/pipe/js/mlp_tanh_on_net.js"            # whole networks and layers
//     refbp check --cmd "node examples/pipe/js/mlp_tanh_on_net.js" --layer    # its layers alone
'use strict';
const {serve} = require('./pipe');
const {LAYERS, SLOPES, evaluate, layer} = require('./mlp');

SLOPES.tanh = (z) => 1 - z * z;  // the bug

serve({
  hello: {name: 'js-mlp-tanh-on-net', version: '1.0', kinds: ['mlp'], dtypes: ['float64', 'float32'],
    quantities: ['outputs', 'loss', 'grads', 'intermediates', 'error_signals', 'train', 'losses'],
    layers: LAYERS},
  evaluate,
  layer,
});
