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

from .variant import Variant


@dataclass(frozen=True)
class Bug:
    id: str  # stable; a family with a parameter is written `truncated:<k>`
    explanation: str  # what the slip is, in one line
    # The bugged references that apply to a case: (id, variant, what this variant is); [] when none does.
    references: Callable[[object], list[tuple[str, Variant, str]]]
    training_only: bool = False  # changes the update, not the gradient at the case's parameters


def _activations(case) -> set[str]:
    network = case.network
    if network.kind == "mlp":
        return set(network.activations)
    return {network.nonlinearity, network.output_activation}


def _activation_bug(name: str, activation: str):
    def references(case):
        return (
            [(f"activation-derivative:{name}", Variant(activation=name), "")]
            if activation in _activations(case)
            else []
        )

    return references


def _loss_bug(name: str, loss: str, variants=None):
    def references(case):
        if case.loss != loss:
            return []
        return [(f"loss-gradient:{name}", Variant(loss=v), detail) for v, detail in (variants or [(name, "")])]

    return references


def _one_path_only(case):
    if case.network.kind != "mlp" or case.network.depth < 2:
        return []
    return [
        (
            "one-path-only",
            Variant(paths="first"),
            "each hidden unit's error taken through unit 0 of the next layer only",
        ),
        (
            "one-path-only",
            Variant(paths="same"),
            "each hidden unit j's error taken through unit j of the next layer only",
        ),
    ]


def _transposed_back(case):
    network = case.network
    if network.kind != "mlp" or not any(network.sizes[i] == network.sizes[i + 1] for i in range(network.depth)):
        return []
    return [("transposed", Variant(paths="transposed"), "")]


def _one_example(case):
    if case.batch < 2:
        return []
    return [
        ("not-summed-over-batch", Variant(example=b), f"it equals the gradient of example {b} alone")
        for b in sorted({0, case.batch - 1})
    ]


def _training(name: str, optimizer: str, applies=lambda case: True):
    def references(case):
        train = case.train
        if train is None or train.optimizer != optimizer or not applies(case):
            return []
        return [(_TRAINING_IDS[name], Variant(training=name), "")]

    return references


_TRAINING_IDS = {
    "eager-update": "update-before-all-gradients",
    "dampened-momentum": "momentum-rule",
    "dampened-from-zero": "momentum-rule",
    "adam-uncorrected": "adam-bias-correction",
    "adam-no-power": "adam-bias-correction:no-step-power",
    "decay-twice": "weight-decay:twice",
    "no-decay": "weight-decay:missing",
}


def _momentum_rules(case):
    train = case.train
    if train is None or train.optimizer != "sgd" or not train.momentum > 0:
        return []
    return [
        ("momentum-rule", Variant(training="dampened-momentum"), "v = g at the first step, then damped"),
        (
            "momentum-rule",
            Variant(training="dampened-from-zero"),
            "v started at 0 and damped by (1 - mu): the first step is (1 - mu) g",
        ),
    ]


def _decay(name: str):
    def references(case):
        train = case.train
        return (
            [(_TRAINING_IDS[name], Variant(training=name), "")] if train is not None and train.weight_decay > 0 else []
        )

    return references


def _probabilities_as_classes(case):
    if case.loss != "cross_entropy" or case.targets.dtype.kind == "i":
        return []
    return [("loss-gradient:probabilities-as-classes", Variant(loss="probabilities-as-classes"), "")]


MEAN_LOSSES = ("cross_entropy", "bce")  # mse's own slip is loss-gradient:mse-without-mean
SUM_LOSSES = ("half_sse", "sse")


def _reduction(case):
    if case.loss in MEAN_LOSSES:
        found = [("loss-reduction:summed", Variant(loss="summed"), "")]
        if case.loss == "bce" and case.targets.shape[-1] > 1:
            found = [
                ("loss-reduction:summed", Variant(loss="summed"), "summed over every value"),
                (
                    "loss-reduction:summed",
                    Variant(loss="summed-examples"),
                    "summed over the examples, each example's values still averaged",
                ),
            ]
        return found
    if case.loss not in SUM_LOSSES:
        return []
    found = [("loss-reduction:averaged", Variant(loss="averaged-examples"), "divided by the number of examples")]
    if case.targets.shape[-1] > 1:
        found.append(("loss-reduction:averaged", Variant(loss="averaged-values"), "divided by the number of values"))
    return found


def _rnn(name: str, bug_id: str, detail: str, applies=lambda case: True):
    def references(case):
        return [(bug_id, Variant(rnn=name), detail)] if case.network.kind == "rnn" and applies(case) else []

    return references


def _off_by_one(case):
    if case.network.kind != "rnn":
        return []
    found = [
        (
            "bptt-off-by-one",
            Variant(rnn="first-step-skipped"),
            "the loop back in time stops before the first step, which never gets its error signal",
        ),
        ("bptt-off-by-one", Variant(rnn="current-state-in-whh"), "dL/dW_hh paired with h_t instead of h_{t-1}"),
    ]
    if case.network.truncate:
        found += [
            ("bptt-off-by-one", Variant(rnn="cut-late"), "the truncation cut one step after torch's detach()"),
            ("bptt-off-by-one", Variant(rnn="cut-early"), "the truncation cut one step before torch's detach()"),
        ]
    return found


def _truncated(case):
    if case.network.kind != "rnn":
        return []
    asked = f"every {case.network.truncate} steps" if case.network.truncate else "through every step"
    return [
        (f"truncated:{k}", Variant(truncate=k), f"the case asks for backpropagation {asked}")
        for k in range(1, case.steps)
        if k != case.network.truncate
    ]


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
