"""Grading in the service, on a real `refbp serve --assignment ...` process driven by httpx on
127.0.0.1 (examples/assignment's cases and rubric, every test visible): a correct submission gets
full marks; a classic wrong one partial marks, with feedback naming its bug and holding no
number of the correct answers; a missing, wrong or other assignment's token is 401 or 403; past
the rate a submission is 429 with Retry-After; the teacher's table (JSON, CSV, page) lists every
submission; a request answered 4xx writes nothing; and `refbp serve` refuses an assignment it
could not serve safely."""

from __future__ import annotations

import csv
import importlib.util
import io
import json

import httpx
import pytest
import sqlalchemy as sa

from grade_checks import ASSIGNMENT, reference_values, revealed
from refbp.cases import load_case
from refbp.cases.export import explicit_document
from refbp.cli import main
from refbp.serving import serving
from service_server import AUTH, TOKEN

CASES = sorted((ASSIGNMENT / "cases").glob("*.json"))
STUDENTS = {
    "alice": "alice-token-0123",
    "bob": "bob-token-0123",
    "carol": "carol-token-0123",
    "erin": "erin-token-0123",
}
PER_MINUTE = 3
JSON = {"content-type": "application/json"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def rubric_file(folder) -> str:
    """The example's rubric with every test visible (the feedback checked is what a student sees)."""
    document = json.loads((ASSIGNMENT / "rubric.json").read_text())
    document.update(visibility="visible", cases=[str(path) for path in CASES])
    path = folder / "rubric.json"
    path.write_text(json.dumps(document))
    return str(path)


def answers(program: str, implementation: str) -> dict:
    """A refbp-results/1 bundle of the program's answers to every case (examples/assignment/PROGRAM.py)."""
    spec = importlib.util.spec_from_file_location(f"graded_{implementation}", ASSIGNMENT / f"{program}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = []
    for path in CASES:
        case = load_case(path)
        document = explicit_document(case)
        document.update(params=case.params, inputs=case.inputs, targets=case.targets)
        net, (params, x, t) = module.factory(document), (case.params, case.inputs, case.targets)
        result = {
            "format": "refbp-result/1",
            "case": case.id,
            "outputs": net.forward(params, x).tolist(),
            "loss": net.loss(params, x, t),
            "grads": {k: v.tolist() for k, v in net.gradients(params, x, t).items()},
        }
        try:  # a transposed gradient of a layer that is not square cannot even be stepped: not given
            after = net.train(params, x, t)
            result.update(params_after={k: v.tolist() for k, v in after.items()}, loss_after=net.loss(after, x, t))
        except ValueError:
            pass
        results.append(result)
    return {"format": "refbp-results/1", "implementation": implementation, "results": results}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tmp_path_factory.mktemp("grading")
    tokens = folder / "tokens.json"
    tokens.write_text(json.dumps({"hw2": STUDENTS, "hw3": {"dave": "dave-token-0123"}}))
    url = f"sqlite:///{folder / 'verdicts.sqlite'}"
    environment = {
        "REFBP_DATABASE_URL": url,
        "REFBP_TOKEN": TOKEN,
        "REFBP_ASSIGNMENT_TOKENS_FILE": str(tokens),
        "REFBP_ASSIGNMENT_TOKENS": "",
        "REFBP_READ_TOKEN": "",
        "REFBP_CORS_ORIGINS": "",
    }
    rubric = rubric_file(folder)
    arguments = [
        "--assignment",
        f"hw2={rubric}",
        "--assignment",
        f"hw3={rubric}",
        "--submissions-per-minute",
        str(PER_MINUTE),
    ]
    with (
        serving(arguments, environment, log=folder / "serve.log") as (base, _process),
        httpx.Client(base_url=base, timeout=120) as client,
    ):
        yield client, sa.create_engine(url)


@pytest.fixture(scope="module")
def correct():
    return answers("solution/backprop", "solution")


@pytest.fixture(scope="module")
def transposed():
    return answers("wrong/transposed_gradient", "transposed")


def submit(client, student: str, body, assignment: str = "hw2", headers=None):
    content = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(
        f"/v1/assignments/{assignment}/submissions",
        content=content,
        headers={**JSON, **bearer(STUDENTS.get(student, student)), **(headers or {})},
    )


def stored_runs(engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.text("SELECT COUNT(*) FROM runs")).scalar_one()


def test_a_correct_submission_gets_full_marks(served, correct):
    client, _ = served
    answer = submit(client, "alice", correct)
    assert answer.status_code == 200, answer.text
    grade = answer.json()
    assert grade["assignment"] == "hw2" and grade["student"] == "alice" and len(grade["submission"]) == 32
    assert grade["score"] == grade["max_score"] == 24.0
    assert grade["tests"] and all(
        t["status"] == "passed" and t["feedback"].startswith("correct") for t in grade["tests"]
    )
    assert answer.headers["x-refbp-submission"] == grade["submission"]


def test_a_wrong_submission_gets_partial_marks_and_no_reference_number(served, transposed):
    client, _ = served
    answer = submit(client, "alice", transposed)
    assert answer.status_code == 200, answer.text
    grade = answer.json()
    assert 0 < grade["score"] < grade["max_score"]
    failed = [t for t in grade["tests"] if t["status"] == "failed"]
    assert failed and any("looks transposed" in t["feedback"] for t in failed), failed
    assert "hw-seed-2-2-2: forward (outputs and loss)" in [t["name"] for t in grade["tests"] if t["status"] == "passed"]
    assert revealed(answer.text, reference_values(CASES)) == []
    assert "expected" not in answer.text and "checks" not in grade  # no verdict rows, no reference values


def test_a_student_needs_a_token_of_that_assignment(served, correct):
    client, engine = served
    before = stored_runs(engine)
    assert submit(client, "no-such-token-0123", correct).status_code == 401
    assert client.post("/v1/assignments/hw2/submissions", content=json.dumps(correct), headers=JSON).status_code == 401
    assert submit(client, TOKEN, correct).status_code == 401  # the teacher's token is no student's
    other = submit(client, "dave-token-0123", correct)
    assert other.status_code == 403 and other.json()["detail"] == "this token is for another assignment"
    assert submit(client, "alice", correct, assignment="hw9").status_code == 404
    assert submit(client, "bob", correct, headers={"content-type": "text/plain"}).status_code == 415
    assert stored_runs(engine) == before


def test_past_the_rate_a_submission_is_429_with_retry_after(served):
    client, engine = served
    before = stored_runs(engine)
    statuses = [submit(client, "carol", '{"format": "refbp-result/1", "case": ').status_code for _ in range(PER_MINUTE)]
    assert statuses == [400] * PER_MINUTE
    refused = submit(client, "carol", '{"format": "refbp-result/1"}')
    assert refused.status_code == 429 and "submissions in a minute" in refused.json()["detail"]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert submit(client, "erin", "{").status_code == 400  # another student's own limit
    assert stored_runs(engine) == before


def test_a_request_answered_4xx_writes_nothing(served, correct):
    client, engine = served
    before = stored_runs(engine)
    wrong_case = dict(correct["results"][0], case="seed-2-2-2")  # a case of the suite, not of the assignment
    assert submit(client, "erin", wrong_case).status_code == 422
    unknown = submit(client, "erin", dict(correct, surprise=1))
    assert unknown.status_code == 422 and "surprise" in unknown.json()["detail"]
    assert stored_runs(engine) == before


def test_the_teacher_sees_every_submission_as_a_table_a_csv_and_a_page(served, correct, transposed):
    client, _ = served
    formula = dict(correct, implementation="=1+2")  # a spreadsheet would compute it: the CSV defuses it
    ids = [submit(client, "bob", body).json()["submission"] for body in (correct, transposed, formula)]
    table = client.get("/v1/assignments/hw2/submissions", headers=AUTH)
    assert table.status_code == 200, table.text
    rows = {row["submission"]: row for row in table.json()["submissions"]}
    assert set(ids) <= set(rows) and rows[ids[0]]["student"] == "bob" and rows[ids[1]]["student"] == "bob"
    assert rows[ids[0]]["score"] == 24.0 and rows[ids[1]]["score"] < 24.0
    assert rows[ids[0]]["implementation"] == "solution" and rows[ids[0]]["tests_passed"].endswith("/18")
    assert {row["student"] for row in rows.values()} >= {"alice", "bob"}
    for path in ("/v1/assignments/hw2/submissions?format=csv", "/v1/assignments/hw2/submissions.csv"):
        answer = client.get(path, headers=AUTH)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
        found = {row["submission"]: row for row in csv.DictReader(io.StringIO(answer.text))}
        assert set(found) == set(rows) and float(found[ids[1]]["score"]) == rows[ids[1]]["score"]
        assert found[ids[0]]["hw-seed-2-2-2: forward (outputs and loss)"] == "1.0"
        assert found[ids[2]]["implementation"] == "'=1+2" and rows[ids[2]]["implementation"] == "=1+2"
    page = client.get("/assignments/hw2", headers=AUTH)
    assert page.status_code == 200 and all(f"/runs/{i}" in page.text for i in ids)
    for headers in ({}, bearer(STUDENTS["bob"])):  # students see their own grade, not the table
        assert client.get("/v1/assignments/hw2/submissions", headers=headers).status_code == 401
        assert client.get("/assignments/hw2", headers=headers).status_code == 401
    assert client.get("/v1/assignments/hw3/submissions", headers=AUTH).json()["submissions"] == []


def test_the_expected_values_stay_behind_the_teachers_token(served, correct):
    """Reads need a token on a server with assignments, even on 127.0.0.1: its runs, cases and
    verify answers hold the expected values."""
    client, _ = served
    for path in ("/v1/runs", "/v1/cases/hw-seed-2-2-2", "/"):
        assert client.get(path).status_code == 401, path
        assert client.get(path, headers=bearer(STUDENTS["alice"])).status_code == 401, path
    result = correct["results"][0]
    assert client.post("/v1/verify", content=json.dumps(result), headers=JSON).status_code == 401
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize(
    "environment, extra, words",
    [
        ({"REFBP_TOKEN": ""}, [], "need REFBP_TOKEN set"),
        ({"REFBP_ASSIGNMENT_TOKENS": ""}, [], "hw2: no student token"),
        ({"REFBP_ASSIGNMENT_TOKENS": '{"hw2": "short"}'}, [], "a token is 12-200 visible ASCII characters"),
        ({"REFBP_ASSIGNMENT_TOKENS": f'{{"hw2": "{TOKEN}"}}'}, [], "must not be REFBP_TOKEN"),
        ({"REFBP_ASSIGNMENT_TOKENS": '{"hw4": "a-token-0123456"}'}, [], "no --assignment of this server"),
        ({}, ["--open-reads"], "--open-reads"),
        ({}, ["--assignment", "hw2=/no/such/rubric.json"], "given twice"),
        ({}, ["--assignment", "h/w=rubric.json"], "NAME=RUBRIC.json"),
    ],
)
def test_serve_refuses_an_assignment_it_cannot_serve_safely(tmp_path, monkeypatch, capsys, environment, extra, words):
    monkeypatch.setenv("REFBP_TOKEN", TOKEN)
    monkeypatch.setenv("REFBP_ASSIGNMENT_TOKENS", '{"hw2": "a-token-0123456"}')
    monkeypatch.delenv("REFBP_ASSIGNMENT_TOKENS_FILE", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    code = main(
        [
            "serve",
            "--database",
            f"sqlite:///{tmp_path / 's.sqlite'}",
            "--port",
            "1",
            "--assignment",
            f"hw2={rubric_file(tmp_path)}",
            *extra,
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1, err
    assert "a-token-0123456" not in err and TOKEN not in err


def test_a_rubric_that_cannot_be_read_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("REFBP_TOKEN", TOKEN)
    monkeypatch.setenv("REFBP_ASSIGNMENT_TOKENS", '{"hw2": "a-token-0123456"}')
    code = main(
        [
            "serve",
            "--database",
            f"sqlite:///{tmp_path / 's.sqlite'}",
            "--assignment",
            f"hw2={tmp_path / 'missing.json'}",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "hw2:" in err and "missing.json: cannot be read" in err, err


def test_the_grading_routes_answer_as_their_openapi_document_says(tmp_path):
    """schemathesis over every operation of a server with an assignment (a few examples each; the
    smoke run of tests/test_service_openapi.py covers the others more)."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from schemathesis.checks import positive_data_acceptance

    from refbp.service.app import create_app
    from refbp.service.settings import Settings

    app = create_app(
        Settings(
            database=f"sqlite:///{tmp_path / 's.sqlite'}",
            token=TOKEN,
            assignments=(("hw2", rubric_file(tmp_path)),),
            assignment_tokens=(("hw2", "alice", STUDENTS["alice"]),),
        )
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    paths = {operation.path for operation in operations}
    assert {"/v1/assignments/{name}/submissions", "/v1/assignments/{name}/submissions.csv"} <= paths
    assert len(operations) == 12
    for operation in operations:
        if "assignments" not in operation.path:
            continue

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def answers_as_documented(case):
            # The teacher's token on the reads (the table's 200s and 404s), a student's on the posts.
            token = TOKEN if case.method == "GET" else STUDENTS["alice"]
            case.call_and_validate(headers=bearer(token), excluded_checks=[positive_data_acceptance])

        answers_as_documented()
