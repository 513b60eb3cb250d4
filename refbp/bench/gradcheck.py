"""The baseline of `refbp bench fd`: torch.autograd.gradcheck on the torch reference's loss
(refbp.oracle.torch_loss.parameter_loss) and the torch reference's gradient. torch is imported
only when a function here runs (it takes seconds): the CLI starts without it."""

from __future__ import annotations


def torch_gradient(case) -> dict:
    from refbp.oracle import torch_reference

    return torch_reference.trace(case).grads


def _with_gradient(loss, names, grads: dict):
    """The loss as a custom autograd Function whose backward returns `grads` (a planted wrong gradient)."""
    import torch

    fixed = [torch.as_tensor(grads[n], dtype=torch.float64) for n in names]

    class Planted(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *params):
            return loss(*params)

        @staticmethod
        def backward(ctx, grad_output):
            return tuple(grad_output * g for g in fixed)

    return Planted.apply


def gradcheck_function(case, fast: bool, atol: float, rtol: float, names=None):
    """gradcheck(fast_mode=fast) on the case's loss, as `check(grads=None) -> () -> passed`:
    with `grads`, on the loss whose backward returns them (a planted wrong gradient).
    `names`: the tensors gradcheck differentiates (all when None); the others are held at the
    case's values, so that gradcheck runs on a sample of its columns."""
    import torch

    from refbp.oracle.torch_loss import parameter_loss

    full_loss, all_names = parameter_loss(case)
    names = list(all_names if names is None else names)
    held = {n: torch.tensor(case.params[n], dtype=torch.float64) for n in all_names}

    def loss(*tensors):
        given = dict(zip(names, tensors))
        return full_loss(*(given.get(n, held[n]) for n in all_names))

    params = tuple(torch.tensor(case.params[n], dtype=torch.float64, requires_grad=True) for n in names)

    def check(grads=None):
        fn = loss if grads is None else _with_gradient(loss, names, grads)

        def run() -> bool:
            torch.manual_seed(0)  # fast_mode's random vectors: the same in every run
            return bool(
                torch.autograd.gradcheck(fn, params, atol=atol, rtol=rtol, fast_mode=fast, raise_exception=False)
            )

        return run

    return check
