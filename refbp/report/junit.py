"""A run as JUnit XML (`--junit-xml FILE`), the file CI dashboards read (Jenkins, GitLab, GitHub
annotations).

One <testsuite> per case, one <testcase> per part of it (refbp.check.parts: forward, each
gradient, training). A failed part is a <failure> whose type is the diagnosis id of its first
failed row and whose text names every failed row with its diagnosis; an inconclusive part is
<skipped> with the reason; an expected failure (--xfails) is <skipped type="xfail">; an XPASS
under --strict-xfail is a <failure type="xpass">; a case that could not be checked (bad input,
a crash) is an <error>. The elements and attributes are those of the JUnit schema of Jenkins'
xunit plugin (junit-10.xsd; tests/data/junit-subset.xsd).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from refbp.check.parts import ERROR, FAIL, INCONCLUSIVE, MISSING, NOT_JUDGED, verdict_parts

# Characters XML 1.0 cannot hold (an implementation's message may carry any byte).
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
MESSAGE_CHARS = 500


def clean(text: str, limit: int | None = None) -> str:
    text = _NOT_XML.sub("?", str(text))
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."


def _seconds(value: float) -> str:
    return f"{max(float(value), 0.0):.3f}"


def row_line(check) -> str:
    index = "".join(f"[{i}]" for i in check.worst_index)
    line = (
        f"{check.reference} {check.quantity} {check.tensor}{index}: got {check.actual:.10g}, reference "
        f"{check.expected_value:.10g} (abs err {check.max_abs_err:.3g}, rel err {check.max_rel_err:.3g}, atol "
        f"{check.atol:g}, rtol {check.rtol:g})" + (f" - {check.note}" if check.note else "")
    )
    if check.diagnosis:
        line += f"\n  diagnosis: {check.diagnosis}: {check.diagnosis_note}"
    return line


def _failure_of(part) -> tuple[str, str, str]:
    """(type, message, text) of a failed or missing part."""
    failed = part.failed_checks()
    if not failed:
        return "missing", f"not provided: {', '.join(part.missing)}", ""
    first = failed[0]
    message = f"{first.quantity} {first.tensor} vs {first.reference}"
    if first.diagnosis:
        message += f": {first.diagnosis_note or first.diagnosis}"
    text = "\n".join(row_line(c) for c in failed)
    if part.missing:
        text += f"\nnot provided: {', '.join(part.missing)}"
    return first.diagnosis or "fail", message, text


def _case_suite(verdict, marks, strict_xfail: bool) -> ET.Element:
    suite = ET.Element("testsuite", name=clean(verdict.case))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    mark = marks.get(verdict.case)
    part_marks = mark.parts if mark is not None else {}

    def testcase(name: str) -> ET.Element:
        counts["tests"] += 1
        return ET.SubElement(suite, "testcase", classname=clean(verdict.case), name=clean(name))

    if verdict.error_kind == "unsupported":
        counts["skipped"] += 1
        ET.SubElement(testcase("case"), "skipped", message="not supported by the implementation (declined)")
    elif not verdict.checks and verdict.errors:
        kind = "bad input" if verdict.error_kind == "input" else (verdict.error_kind or "error")
        if mark is not None and mark.mark == "XFAIL":
            counts["skipped"] += 1
            element = ET.SubElement(
                testcase("case"),
                "skipped",
                type="xfail",
                message=clean(f"expected failure: {'; '.join(mark.reasons)}", MESSAGE_CHARS),
            )
        else:
            counts["errors"] += 1
            element = ET.SubElement(
                testcase("case"), "error", type=kind, message=clean(verdict.errors[0], MESSAGE_CHARS)
            )
        element.text = clean("\n".join(verdict.errors))
    for part in (
        verdict_parts(verdict) if verdict.error_kind != "unsupported" and (verdict.checks or not verdict.errors) else ()
    ):
        case = testcase(part.name)
        expected, reasons = part_marks.get(part.name, ("", []))
        state = part.state
        if state == MISSING:  # declared not provided (a partial answer): skipped, never a failure
            counts["skipped"] += 1
            ET.SubElement(
                case,
                "skipped",
                type="not-provided",
                message=clean(f"not provided (declared): {', '.join(part.missing)}", MESSAGE_CHARS),
            )
        elif state == FAIL and expected == "XFAIL":
            counts["skipped"] += 1
            kind, _, text = _failure_of(part)
            ET.SubElement(
                case,
                "skipped",
                type="xfail",
                message=clean(f"expected failure ({kind}): {'; '.join(reasons)}", MESSAGE_CHARS),
            ).text = clean(text)
        elif state == FAIL:
            counts["failures"] += 1
            kind, message, text = _failure_of(part)
            ET.SubElement(case, "failure", type=clean(kind), message=clean(message, MESSAGE_CHARS)).text = clean(text)
        elif state == ERROR:
            counts["errors"] += 1
            ET.SubElement(
                case, "error", type=verdict.error_kind or "error", message=clean(part.errors[0], MESSAGE_CHARS)
            ).text = clean("\n".join(part.errors))
        elif state in (INCONCLUSIVE, NOT_JUDGED):
            counts["skipped"] += 1
            why = (
                f"inconclusive: {sum(c.inconclusive for c in part.checks)} entries no reference could judge to "
                f"the accuracy needed"
                if state == INCONCLUSIVE
                else "not judged: no reference has a row for it"
            )
            ET.SubElement(case, "skipped", type="inconclusive", message=why)
        elif expected == "XPASS" and strict_xfail:
            counts["failures"] += 1
            ET.SubElement(
                case,
                "failure",
                type="xpass",
                message=clean(f"XPASS: expected to fail ({'; '.join(reasons)}) but passed", MESSAGE_CHARS),
            )
        elif expected == "XPASS":
            ET.SubElement(case, "system-out").text = clean(f"XPASS: expected to fail ({'; '.join(reasons)}) but passed")
    if verdict.errors and verdict.checks:  # rows and errors: the errors too fail the case
        counts["errors"] += 1
        ET.SubElement(
            testcase("case"),
            "error",
            type=verdict.error_kind or "error",
            message=clean(verdict.errors[0], MESSAGE_CHARS),
        ).text = clean("\n".join(verdict.errors))
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", _seconds(verdict.seconds))
    return suite


def run_junit(run, command: str) -> ET.ElementTree:
    """The JUnit document of a run of `run`, `verify` or `check`."""
    marks = getattr(run, "marks", {}) or {}
    strict_xfail = bool(getattr(run, "strict_xfail", False))
    root = ET.Element("testsuites", name=f"refbp {command}")
    suites = [_case_suite(v, marks, strict_xfail) for v in run.verdicts]
    for suite in suites:
        if run.started:
            suite.set("timestamp", run.started)
        root.append(suite)
    return _totals(root, suites, run.seconds)


def fuzz_junit(run) -> ET.ElementTree:
    """The JUnit document of a fuzz run: one test case per example drawn (its failure as fuzz gives it)."""
    root = ET.Element("testsuites", name="refbp fuzz")
    suite = ET.SubElement(root, "testsuite", name=clean(run.options.command()))
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for outcome in (o for o in run.outcomes if o.document is not None):
        counts["tests"] += 1
        features = outcome.features
        case = ET.SubElement(
            suite,
            "testcase",
            classname="refbp.fuzz",
            time=_seconds(outcome.seconds),
            name=clean(
                f"example {outcome.index} ({features.get('kind')}, {features.get('loss')}, "
                f"{'/'.join(features.get('activations', []))})"
            ),
        )
        if not outcome.supported:
            counts["skipped"] += 1
            ET.SubElement(case, "skipped", message="not supported by the implementation (declined)")
        elif outcome.inconclusive:
            counts["skipped"] += 1
            ET.SubElement(
                case,
                "skipped",
                type="inconclusive",
                message="inconclusive: entries no reference could judge to the accuracy needed",
            )
        elif outcome.failed:
            counts["failures"] += 1
            kind = "crash" if outcome.failure.startswith("crash") else "fail"
            ET.SubElement(case, "failure", type=kind, message=clean(outcome.failure, MESSAGE_CHARS)).text = clean(
                f"{outcome.failure}\nreproduce: {run.options.command()} (example {outcome.index})"
            )
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("time", _seconds(run.seconds))
    return _totals(root, [suite], run.seconds)


def _totals(root: ET.Element, suites: list[ET.Element], seconds: float) -> ET.ElementTree:
    for key in ("tests", "failures", "errors"):
        root.set(key, str(sum(int(s.get(key, "0")) for s in suites)))
    root.set("time", _seconds(seconds))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(tree: ET.ElementTree, path) -> Path:
    """Written whole under a temporary name and renamed: a dashboard never reads half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    tree.write(partial, encoding="utf-8", xml_declaration=True)
    partial.replace(path)
    return path
