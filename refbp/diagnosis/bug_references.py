"""Which bugged references each bug of the catalogue (refbp.diagnosis.catalogue) applies to a case:
(id, variant, what this variant is) for every way the slip can be made on it; [] when none fits.
"""

from __future__ import annotations

from .variant import Variant


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
