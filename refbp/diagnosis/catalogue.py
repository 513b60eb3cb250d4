"""The catalogue of classic backpropagation bugs: each a stable id, one line a student understands,
and the bugged references (refbp.diagnosis's float64 re-derivation with the bug switched on) that
apply to a case.

The one list of the bugs refbp can name. The diagnosis compares a failed row with each bugged
reference; the injected-bug tests (tests/test_teeth.py, test_rnn_teeth.py) plant each of these
bugs in refbp.nn and assert that the diagnosis names it by the id written here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .bug_references import _TRAINING_IDS as _TRAINING_IDS
from .bug_references import MEAN_LOSSES as MEAN_LOSSES
from .bug_references import SUM_LOSSES as SUM_LOSSES
from .bug_references import _activation_bug as _activation_bug
from .bug_references import _activations as _activations
from .bug_references import _decay as _decay
from .bug_references import _loss_bug as _loss_bug
from .bug_references import _momentum_rules as _momentum_rules
from .bug_references import _off_by_one as _off_by_one
from .bug_references import _one_example as _one_example
from .bug_references import _one_path_only as _one_path_only
from .bug_references import _probabilities_as_classes as _probabilities_as_classes
from .bug_references import _reduction as _reduction
from .bug_references import _rnn as _rnn
from .bug_references import _training as _training
from .bug_references import _transposed_back as _transposed_back
from .bug_references import _truncated as _truncated
from .variant import Variant


@dataclass(frozen=True)
class Bug:
    id: str  # stable; a family with a parameter is written `truncated:<k>`
    explanation: str  # what the slip is, in one line
    # The bugged references that apply to a case: (id, variant, what this variant is); [] when none does.
    references: Callable[[object], list[tuple[str, Variant, str]]]
    training_only: bool = False  # changes the update, not the gradient at the case's parameters


CATALOGUE: tuple[Bug, ...] = (
    Bug(
        "activation-derivative:sigmoid-twice",
        "the sigmoid's slope computed from sigmoid(out), i.e. sigmoid applied again to the layer's output: "
        "s(out)(1 - s(out)) where out(1 - out) belongs",
        _activation_bug("sigmoid-twice", "sigmoid"),
    ),
    Bug(
        "activation-derivative:sigmoid-on-net",
        "the sigmoid's slope computed from net instead of out: net(1 - net) where out(1 - out) belongs",
        _activation_bug("sigmoid-on-net", "sigmoid"),
    ),
    Bug(
        "activation-derivative:tanh-on-net",
        "tanh's slope computed from net instead of out: 1 - net^2 where 1 - out^2 belongs",
        _activation_bug("tanh-on-net", "tanh"),
    ),
    Bug(
        "activation-derivative:softmax-elementwise",
        "softmax differentiated as if elementwise, out(1 - out): the off-diagonal terms -out_i out_j of its "
        "Jacobian are missing",
        _activation_bug("softmax-elementwise", "softmax"),
    ),
    Bug(
        "loss-gradient:mse-without-mean",
        "mse's gradient 2(y - t) not divided by the number of values the mean is over",
        _loss_bug("mse-without-mean", "mse"),
    ),
    Bug(
        "loss-gradient:cross-entropy-without-softmax",
        "cross-entropy's gradient taken as (y - t) on the raw outputs, where (softmax(y) - t) belongs",
        _loss_bug("cross-entropy-without-softmax", "cross_entropy"),
    ),
    Bug(
        "loss-gradient:bce-on-logits",
        "binary cross-entropy's gradient for logits used on outputs that already went through a sigmoid",
        _loss_bug(
            "bce-on-logits",
            "bce",
            [
                ("bce-on-logits", "dL/dy = (sigmoid(y) - t)/N: y taken as a logit"),
                ("bce-shortcut", "dL/dy = (y - t)/N: the fused sigmoid + BCE gradient, then the sigmoid's slope again"),
            ],
        ),
    ),
    Bug(
        "one-path-only",
        "a hidden unit's error taken through one unit of the next layer only, not summed over every unit it "
        "feeds (the seed's w1 reaches the loss through o1 and o2)",
        _one_path_only,
    ),
    Bug(
        "transposed",
        "the error sent back to the layer below through W^T where W belongs (dL/dx = dL/dnet W): on a square "
        "layer the shapes fit, the numbers do not",
        _transposed_back,
    ),
    Bug(
        "not-summed-over-batch",
        "the gradient of one example, not the sum over the batch of every example's gradient",
        _one_example,
    ),
    Bug(
        "update-before-all-gradients",
        "each layer updated as soon as its gradient was known, so the layers below got their error through "
        "already-updated weights",
        _training("eager-update", "sgd", lambda case: case.network.kind == "mlp"),
        training_only=True,
    ),
    Bug(
        "momentum-rule",
        "momentum written v = mu v + (1 - mu) g (dampened), where torch.optim.SGD uses v = mu v + g",
        _momentum_rules,
        training_only=True,
    ),
    Bug(
        "adam-bias-correction",
        "Adam without its bias correction m/(1 - beta1^t), v/(1 - beta2^t): its first steps come out wrong",
        _training("adam-uncorrected", "adam"),
        training_only=True,
    ),
    Bug(
        "adam-bias-correction:no-step-power",
        "Adam's bias correction written 1 - beta1 (and 1 - beta2) where 1 - beta1^t (1 - beta2^t) belongs: "
        "right at the first step only",
        _training("adam-no-power", "adam", lambda case: case.train.steps > 1),
        training_only=True,
    ),
    Bug(
        "weight-decay:twice",
        "weight decay applied twice (added to the gradient and again in the step): 2 wd p where wd p belongs",
        _decay("decay-twice"),
        training_only=True,
    ),
    Bug(
        "weight-decay:missing",
        "weight decay never applied: the case's wd p is missing from every step",
        _decay("no-decay"),
        training_only=True,
    ),
    Bug(
        "loss-gradient:probabilities-as-classes",
        "probability targets turned into class indices (argmax) in the backward: softmax(y) - onehot(argmax t) "
        "where softmax(y) - t belongs",
        _probabilities_as_classes,
    ),
    Bug(
        "loss-reduction:summed",
        "the loss summed where the case takes its mean (over the examples, or the values): every gradient that "
        "many times too large",
        _reduction,
    ),
    Bug(
        "loss-reduction:averaged",
        "the loss averaged where the case sums: every gradient divided by the number of examples (or values)",
        lambda case: [],
    ),
    Bug("bptt-off-by-one", "backpropagation through time off by one step", _off_by_one),
    Bug(
        "recurrent-term-missing",
        "dL/dh_t taken from the readout only, without the term dL/dnet_{t+1} W_hh coming back from the next step",
        _rnn("no-recurrent", "recurrent-term-missing", ""),
    ),
    Bug("truncated:<k>", "backpropagation through time cut every k steps", _truncated),
)

BUGS: dict[str, Bug] = {bug.id: bug for bug in CATALOGUE}


def family(bug_id: str) -> Bug:
    """The catalogue's entry of an id (`truncated:3` -> `truncated:<k>`)."""
    if bug_id in BUGS:
        return BUGS[bug_id]
    return BUGS[bug_id.partition(":")[0] + ":<k>"]


def bugged_references(case) -> list[tuple[Bug, str, Variant, str]]:
    """Every bugged reference that applies to `case`: (bug, id, variant, what this variant is)."""
    return [(bug, bug_id, variant, detail) for bug in CATALOGUE for bug_id, variant, detail in bug.references(case)]
