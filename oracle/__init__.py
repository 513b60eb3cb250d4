"""The references refbp is checked against; none of them imports refbp.nn.

- `refbp.oracle.torch_reference`: the case's forward, gradients and training by torch autograd
  and torch.optim in float64.
- `refbp.oracle.torch_modules`: the one builder of the torch networks (MLP of torch.nn.Linear,
  torch.nn.RNN in `refbp.oracle.torch_rnn`); the benchmarks use it too.
- `refbp.oracle.torch_functions`: activations and losses by name, as torch.nn's.
- `refbp.oracle.torch_loss`: the torch reference's loss as a function of the parameters (for
  `refbp verify` and gradcheck).
- `refbp.oracle.fd`: finite differences over any `loss(params)` function (central, Richardson,
  complex step, directional, sampled).
"""
