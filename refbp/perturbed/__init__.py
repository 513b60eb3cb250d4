"""refbp's forward at many perturbed parameter sets at once: the fast forms of refbp's loss
that make its finite differences fast (`loss_forms(case)` -> refbp.loss_forms.LossForms,
which refbp.oracle.fd consumes).

It reads refbp.nn only through its public interface (build_model, case_arrays,
loss_function, the model classes, activations and losses by name) and numpy; it never
imports torch or oracle, and refbp.nn never imports it. Every form gives refbp.nn's own
forward to rounding and never uses a derivative formula; refbp.oracle.fd checks the batched
losses against the plain loss before it uses them.
"""

from .forms import loss_forms

__all__ = ["loss_forms"]
