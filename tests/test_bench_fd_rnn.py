"""`refbp bench fd`'s RNN rows (refbp.bench.fd_rnn): the problem the issue names, and a goal
line that says met only when met (the rows themselves run in tests/test_fd_teeth.py)."""

from __future__ import annotations

import pandas as pd

from refbp.bench import fd_rnn


def test_the_rows_problem_is_the_issues():
    case = fd_rnn.make_case("relu")
    assert fd_rnn.sizes_of(case) == (8, 32, 4) and case.network.nonlinearity == "relu"
    assert case.inputs.shape == (4, 20, 8) and case.targets.shape == (4, 20, 4)
    assert fd_rnn.make_case("tanh", quick=True).inputs.shape == (4, 5, 3)


def test_the_rnn_goal_line_says_met_only_when_met():
    def frame(speedup, agree=True):
        return pd.DataFrame(
            [
                {
                    "network": "32-64-64-10",
                    "kind": "mlp",
                    "activation": "relu",
                    "steps": 1,
                    "method": "central",
                    "speedup": 150.0,
                    "agree": True,
                },
                {
                    "network": "8-32-4",
                    "kind": "rnn",
                    "activation": "tanh",
                    "steps": 20,
                    "method": "central",
                    "speedup": speedup,
                    "agree": agree,
                },
            ]
        )

    (line,) = fd_rnn.goal_lines(frame(25.0))
    assert line.endswith("(met)") and "RNN 8-32-4 tanh T = 20 25.0x" in line
    for bad in (frame(19.0), frame(25.0, agree=False)):
        assert fd_rnn.goal_lines(bad)[0].endswith("(not met)")
    assert fd_rnn.goal_lines(pd.DataFrame([{"network": "2-2-2", "method": "central", "speedup": 1.0}])) == []
