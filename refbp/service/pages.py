"""The service's pages for people: the runs (/), one run (/runs/{id}), runs side by side
(/compare) and the API (/docs). They are drawn by the same templates and page builders as
the report.html of `run`, `verify` and `check` (refbp.report); pictures come inline (data:
URIs), so that a page, like a written report, loads nothing from elsewhere. Each page is
drawn in the read pool (refbp.service.reads): a flood of pages waits there or gets 503.
They show the server's version, platform and kind of store, never its store's URL or path.
"""

from __future__ import annotations

import base64
import io

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from refbp.compare import tensor_table
from refbp.compare.columns import ColumnError
from refbp.compare.write import heatmap
from refbp.report.frames import stored_frames, stored_through_time
from refbp.report.page import Form, Page, Section, html
from refbp.report.plots_rnn import draw_through_time, through_time_caption
from refbp.report.run_page import run_html
from refbp.report.write import PICTURES
from refbp.store import run_checks, run_row, runs_frame

from .catalog import shown
from .compare import MAX_RUNS, compared
from .deps import read_access, read_pool_of, settings_of, store_of, verifier_of
from .openapi import openapi_document
from .pool import CheckPool
from .reads import MAX_ROWS
from .settings import Settings
from .verifier import Verifier

NAV = [("/", "Runs"), ("/compare", "Compare"), ("/docs", "API"), ("/v1/cases", "Cases (JSON)")]
RUN_LIST_COLUMNS = [
    "runs",
    "id",
    "started",
    "command",
    "implementation",
    "cases",
    "failed_cases",
    "inconclusive_cases",
    "passed",
    "seconds",
]
# The runs list's first column: a checkbox per run; its button opens /compare?runs=ID&runs=ID.
COMPARE_FORM = Form("compare-runs", "/compare", "Compare the ticked runs", ("runs",))


def data_uri(draw, frame) -> str | None:
    """A PNG drawn by `draw(frame, file)` as a data: URI (None when there was nothing to draw)."""
    buffer = io.BytesIO()
    if draw(frame, buffer) is False:
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


router = APIRouter(dependencies=[Depends(read_access)], include_in_schema=False)


async def drawn(reads: CheckPool, settings: Settings, draw, *args) -> HTMLResponse:
    """A page drawn in the read pool."""
    return HTMLResponse(await reads.run(draw, *args, seconds=settings.limits.read_seconds))


def runs_section(store, heading: str) -> tuple[int, Section]:
    """The newest runs, each a link to its page and a checkbox of the compare form."""
    runs = runs_frame(store, limit=200)
    table = runs.assign(runs=runs["id"]).reindex(columns=RUN_LIST_COLUMNS)
    return len(runs), Section(
        heading,
        text="Tick two or more runs and compare them side by side.",
        table=table,
        fail_column="passed",
        links={"id": "/runs/{}"},
        form=COMPARE_FORM,
    )


def index_html(verifier, store):
    count, section = runs_section(store, "Runs")
    lines = [
        f"{count} most recent run(s) in the verdict store ({store.kind}), newest first. POST a result "
        "to /v1/verify (see API) and it appears here.",
        f"{len(verifier.suite)} cases are judged against.",
    ]
    return html(Page("refbp verification service", lines, [section], verifier.environment, nav=NAV))


@router.get("/", response_class=HTMLResponse)
async def index(
    verifier: Verifier = Depends(verifier_of),
    store=Depends(store_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
):
    return await drawn(reads, settings, index_html, verifier, store)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
async def run_page(
    run_id: str,
    verifier: Verifier = Depends(verifier_of),
    store=Depends(store_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
):
    return await drawn(reads, settings, run_html_of, verifier, store, run_id)


def run_html_of(verifier, store, run_id: str):
    try:
        run = run_row(store, run_id)
    except KeyError:
        raise HTTPException(404, f"no run {shown(run_id)} in the verdict store") from None
    rows = run_checks(store, run_id, limit=MAX_ROWS)  # a page is bounded as /v1/runs/{id} is
    details, summary = stored_frames(rows)
    pictures = [(uri, caption) for _, caption, draw in PICTURES if (uri := data_uri(draw, details)) is not None]
    case_images = {
        case: [
            (
                data_uri(
                    lambda norms, target, case=case, title=title: draw_through_time(case, title, norms, target), norms
                ),
                through_time_caption(case),
            )
        ]
        for case, (title, norms) in stored_through_time(rows).items()
    }
    about = [
        f"{run['command']} of {run['implementation'] or 'an unnamed implementation'} "
        f"(refbp {run['refbp_version']}), started {run['started']}; run {run['id']}; references in "
        "float64. Tolerances: see each row's atol/rtol."
    ]
    page = Page(f"refbp {run['command']} {run['started']}", about, [], verifier.environment, nav=NAV)
    return run_html(page, details, summary, pictures, case_images, seconds=float(run["seconds"]))


@router.get("/compare", response_class=HTMLResponse)
async def compare_page(
    runs: list[str] = Query(default=[], max_length=MAX_RUNS),
    verifier: Verifier = Depends(verifier_of),
    store=Depends(store_of),
    reads: CheckPool = Depends(read_pool_of),
    settings: Settings = Depends(settings_of),
):
    """?runs=ID,ID or ?runs=ID&runs=ID (what the runs list's form sends); none: the list to pick from."""
    return await drawn(reads, settings, compare_html, verifier, store, ",".join(runs)[: MAX_RUNS * 33 + 1])


def compare_html(verifier, store, runs: str):
    lines = [
        "Stored runs side by side: per case, each run's status and worst relative error per reference. "
        "Name the runs as ?runs=ID,ID, or tick them below."
    ]
    sections = [runs_section(store, "Runs to compare")[1]]
    if runs:
        try:
            found = compared(runs, store)
            columns, table = found.columns, found.table
        except ColumnError as exc:
            raise HTTPException(404, str(exc)) from None
        picture = data_uri(lambda _frame, target: heatmap(columns, target), None)
        sections = [
            Section(
                "Cases",
                table=table,  # type: ignore[arg-type]  # refbp.compare.case_table's DataFrame
                # no picture when there was nothing to draw: no image then, rather than an empty src
                images=[]
                if picture is None
                else [(picture, "log10 of the worst relative error, case x run (x: the case failed)")],
            ),
            Section("Every row side by side", table=tensor_table(columns)),
        ]
    return html(Page("refbp compare", lines, sections, verifier.environment, nav=NAV))


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request, verifier: Verifier = Depends(verifier_of)):
    document = openapi_document(request.app)
    endpoints = [
        {
            "method": method.upper(),
            "path": path,
            "summary": operation.get("summary", ""),
            "responses": ", ".join(operation.get("responses", {})),
        }
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    schemas = pd.DataFrame({"schema": sorted(n for n in document["components"]["schemas"] if "." not in n)})
    schemas["JSON Schema"] = "/v1/schemas/" + schemas["schema"].str.split("-").str[1]
    lines = [
        "The OpenAPI document: /openapi.json. Request and response bodies are the formats' JSON Schemas "
        "(docs/formats.md). Writes (POST) need `Content-Type: application/json`, and `Authorization: "
        "Bearer <token>` when the server has REFBP_TOKEN set; reads need a token only where the server "
        "says so (docs/service.md)."
    ]
    sections = [
        Section("Endpoints", table=pd.DataFrame(endpoints)),
        Section("Formats", table=schemas, links={"JSON Schema": "{}"}),
    ]
    return html(Page("refbp verification service: API", lines, sections, verifier.environment, nav=NAV))
