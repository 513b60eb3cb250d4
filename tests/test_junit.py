"""--junit-xml: every file refbp writes is valid against the JUnit schema's rules (the subset of
Jenkins' junit-10.xsd in tests/data/junit-subset.xsd, read here with xml.etree), with one test
case per case part, failures carrying the diagnosis, inconclusive parts skipped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import write_case
from refbp.cases import SUITE_DIR
from refbp.check.suite import SuiteRun
from refbp.check.verdict import CaseVerdict, Check
from refbp.cli import main
from refbp.report.junit import fuzz_junit, run_junit, write_junit

XSD = Path(__file__).parent / "data" / "junit-subset.xsd"
XS = "{http://www.w3.org/2001/XMLSchema}"
SEED = SUITE_DIR / "seed" / "seed-2-2-2.json"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def schema_rules() -> dict:
    """{element: (children allowed, {attribute: (required, type)}, text allowed)} from the XSD."""
    root = ET.parse(XSD).getroot()
    patterns = {
        t.get("name"): t.find(f"{XS}restriction/{XS}pattern").get("value") for t in root.findall(f"{XS}simpleType")
    }
    rules = {}
    for element in root.findall(f"{XS}element"):
        complex_type = element.find(f"{XS}complexType")
        if complex_type is None:  # a simple element: text only
            rules[element.get("name")] = (set(), {}, True)
            continue
        children = {ref.get("ref") for ref in complex_type.iter(f"{XS}element")}
        attributes = {
            a.get("name"): (a.get("use") == "required", patterns.get(a.get("type")))
            for a in complex_type.findall(f"{XS}attribute")
        }
        rules[element.get("name")] = (children, attributes, complex_type.get("mixed") == "true")
    return rules


def schema_problems(document: ET.Element) -> list[str]:
    """Every way `document` breaks the schema's rules (empty: valid)."""
    rules, problems = schema_rules(), []

    def visit(element, path):
        if element.tag not in rules:
            problems.append(f"{path}: unknown element")
            return
        children, attributes, text = rules[element.tag]
        for name, value in element.attrib.items():
            if name not in attributes:
                problems.append(f"{path}: attribute {name} not in the schema")
            elif attributes[name][1] and not re.fullmatch(attributes[name][1], value):
                problems.append(f"{path}: {name}={value!r} does not match its type's pattern")
        problems.extend(
            f"{path}: required attribute {name} missing"
            for name, (required, _) in attributes.items()
            if required and name not in element.attrib
        )
        if not text and (element.text or "").strip():
            problems.append(f"{path}: text where the schema allows none")
        for child in element:
            if child.tag not in children:
                problems.append(f"{path}/{child.tag}: not allowed inside {element.tag}")
            visit(child, f"{path}/{child.tag}")

    if document.tag != "testsuites":
        problems.append(f"the root is {document.tag}, not testsuites")
    visit(document, document.tag)
    return problems


def read_valid(path) -> ET.Element:
    document = ET.parse(path).getroot()
    assert schema_problems(document) == []
    return document


def test_the_schema_check_has_teeth():
    bad = ET.fromstring(
        '<testsuites><testsuite name="x" tests="1" failures="0"><testcase classname="c">'
        '<failure oops="1"/></testcase><bogus/></testsuite></testsuites>'
    )
    problems = "\n".join(schema_problems(bad))
    for expected in (
        "required attribute errors missing",
        "required attribute name missing",
        "attribute oops not in the schema",
        "bogus: not allowed inside testsuite",
    ):
        assert expected in problems
    assert schema_problems(ET.fromstring('<testsuites time="1.5x"/>'))


def test_run_writes_one_test_case_per_part_and_a_failure_with_its_diagnosis(tmp_path, capsys, seed_document):
    seed_document["expected"]["grads"]["layers.1.weight"][0][0] = 0.082167141  # one published digit changed
    write_case(tmp_path, seed_document)
    junit = tmp_path / "ci" / "junit.xml"
    code = main(["run", str(tmp_path / "seed-2-2-2.json"), "--no-report", "--junit-xml", str(junit)])
    out = capsys.readouterr().out
    assert code == 1
    assert "score: 0/1 cases (0 %): forward 100 %, gradients 80 %, training 100 %" in out
    root = read_valid(junit)
    names = [case.get("name") for case in root.iter("testcase")]
    assert names == [
        "forward",
        "gradient layers.0.weight",
        "gradient layers.0.bias",
        "gradient layers.1.weight",
        "gradient layers.1.bias",
        "gradient inputs",
        "training",
    ]
    (failure,) = root.iter("failure")
    assert "layers.1.weight" in failure.get("message") and "expected" in failure.get("message")
    assert "grads layers.1.weight[0][0]" in failure.text
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "1", "0")


def test_check_failure_carries_the_diagnosis(tmp_path, capsys):
    junit = tmp_path / "junit.xml"
    code = main(
        [
            "check",
            "--impl",
            f"{EXAMPLES / 'numpy_mlp_sigmoid_bug.py'}:factory",
            str(SEED),
            "--no-report",
            "--junit-xml",
            str(junit),
        ]
    )
    capsys.readouterr()
    assert code == 1
    root = read_valid(junit)
    failures = {case.get("name"): case.find("failure") for case in root.iter("testcase")}
    assert failures["forward"] is None
    weight = failures["gradient layers.0.weight"]
    assert weight.get("type") == "activation-derivative:sigmoid-on-net"
    assert "net(1 - net)" in weight.get("message") and "diagnosis:" in weight.text


def synthetic_run() -> SuiteRun:
    def row(quantity, tensor, passed=True, **more):
        return Check(
            quantity=quantity,
            tensor=tensor,
            reference="torch-autograd",
            max_abs_err=0.0,
            max_rel_err=0.0,
            worst_index=[],
            atol=1e-10,
            rtol=1e-7,
            passed=passed,
            **more,
        )

    passing = CaseVerdict(
        case="good", implementation="impl", passed=True, checks=[row("loss", "loss"), row("grads", "w")], seconds=0.25
    )
    failing = CaseVerdict(
        case="bad",
        implementation="impl",
        passed=False,
        checks=[
            row("loss", "loss"),
            row("grads", "w", False, diagnosis="transposed", diagnosis_note="looks transposed"),
        ],
    )
    unsure = CaseVerdict(case="unsure", implementation="impl", passed=True, checks=[row("grads", "w", inconclusive=2)])
    crashed = CaseVerdict(
        case="crashed",
        implementation="impl",
        passed=False,
        errors=["crashed.json: could not be checked: boom \x00\x1b"],
        error_kind="crash",
    )
    bad = CaseVerdict(
        case="broken",
        implementation="impl",
        passed=False,
        errors=["broken.json: network: is required"],
        error_kind="input",
    )
    declined = CaseVerdict(
        case="declined", implementation="impl", passed=False, errors=["not supported"], error_kind="unsupported"
    )
    return SuiteRun(
        verdicts=[passing, failing, unsure, crashed, bad, declined], started="2026-01-01T00:00:00+00:00", seconds=1234.5
    )


def test_every_kind_of_verdict_is_valid_and_counted(tmp_path):
    path = write_junit(run_junit(synthetic_run(), "check"), tmp_path / "j.xml")
    root = read_valid(path)
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert suites["bad"].find("testcase[@name='gradient w']/failure").get("type") == "transposed"
    skipped = suites["unsure"].find("testcase/skipped")
    assert skipped.get("type") == "inconclusive" and "2 entries" in skipped.get("message")
    assert suites["crashed"].find("testcase/error").get("type") == "crash"
    assert "\x00" not in path.read_text()  # control characters are not XML
    assert suites["broken"].find("testcase/error").get("type") == "bad input"
    assert suites["declined"].find("testcase/skipped") is not None
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("8", "1", "2")
    assert root.get("time") == "1234.500"


def test_a_part_declared_not_provided_is_skipped_not_failed(tmp_path):
    partial = CaseVerdict(
        case="partial",
        implementation="impl",
        passed=True,
        checks=[
            Check(
                quantity="loss",
                tensor="loss",
                reference="torch-autograd",
                max_abs_err=0.0,
                max_rel_err=0.0,
                worst_index=[],
                atol=0.0,
                rtol=0.0,
                passed=True,
            )
        ],
        not_provided=["grads.b", "params_after"],
    )
    root = read_valid(write_junit(run_junit(SuiteRun(verdicts=[partial]), "check"), tmp_path / "j.xml"))
    skipped = root.find(".//testcase[@name='gradient b']/skipped")
    assert skipped.get("type") == "not-provided" and "grads.b" in skipped.get("message")
    assert root.get("failures") == "0"


def test_fuzz_writes_one_test_case_per_example(tmp_path, capsys):
    junit = tmp_path / "fuzz.xml"
    code = main(["fuzz", "--examples", "2", "--kind", "mlp", "--no-progress", "--junit-xml", str(junit)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "score: 2/2 examples (100 %)" in out
    root = read_valid(junit)
    assert len(list(root.iter("testcase"))) == 2 and root.get("failures") == "0"


def test_fuzz_failures_inconclusive_and_declined_examples(tmp_path):
    from refbp.fuzz.run import FuzzOptions, FuzzRun
    from refbp.fuzz.unit import ExampleOutcome

    features = {"kind": "mlp", "loss": "mse", "activations": ["relu"]}
    run = FuzzRun(
        FuzzOptions(seed=7),
        outcomes=[
            ExampleOutcome(0, {}, features=features),
            ExampleOutcome(
                1,
                {},
                passed=False,
                failure="torch-autograd grads layers.0.weight[0][1] (rel err 0.5)",
                features=features,
            ),
            ExampleOutcome(2, {}, passed=False, inconclusive=True, features=features),
            ExampleOutcome(3, {}, supported=False, features=features),
            ExampleOutcome(4, None),
        ],
        seconds=3.0,
    )
    root = read_valid(write_junit(fuzz_junit(run), tmp_path / "f.xml"))
    cases = list(root.iter("testcase"))
    assert len(cases) == 4 and (root.get("tests"), root.get("failures")) == ("4", "1")
    failure = cases[1].find("failure")
    assert "layers.0.weight[0][1]" in failure.get("message") and "refbp fuzz --kind all --seed 7" in failure.text
    assert cases[2].find("skipped").get("type") == "inconclusive" and cases[3].find("skipped") is not None


def test_a_junit_path_that_is_a_folder_is_refused_before_any_work(tmp_path, capsys):
    code = main(["run", str(SEED), "--no-report", "--junit-xml", str(tmp_path)])
    _, err = capsys.readouterr()
    assert code == 2
    assert err.strip().splitlines() == [f"refbp: error: --junit-xml {tmp_path}: is a folder"]


@pytest.mark.parametrize("command", ["run", "check", "verify", "fuzz"])
def test_help_names_the_option(command, capsys):
    assert main([command, "--help"]) == 0
    assert "--junit-xml FILE" in capsys.readouterr().out
