"""The references refbp is checked against; none of them imports refbp.nn.

- `oracle.torch_reference`: torch.nn modules, autograd and torch.optim in float64.
- `oracle.fd`: finite differences over any `loss(params)` function (central, Richardson,
  complex step, directional, sampled).
- `oracle.torch_loss`: the torch reference's loss as a plain function (for `refbp verify`).
"""
