"""``POST /api/projects/{id}/query``: run any registered metric.

The body is a union of every metric's query model, discriminated on ``kind``, built from
the registry when this router is built; so the OpenAPI schema lists each metric's fields
and a request for an unknown kind or with a bad field is a 422 naming it. A valid query
that the metric still rejects (say a filter operator that needs a number) is a 400.
"""

# No ``from __future__ import annotations``: the endpoint's parameter types are built at
# run time and FastAPI must see them as objects, not strings.

import logging
import typing
from collections.abc import Callable
from typing import Annotated, Any, Union

from fastapi import APIRouter, Body, HTTPException, Response, status
from pydantic import BaseModel, Field

from yunying.analytics.registry import load_metric, metric_kinds
from yunying.api.deps import SecretProjectDep, StateDep
from yunying.db.projects import context_for

log = logging.getLogger(__name__)

Metric = tuple[type[BaseModel], Callable[..., BaseModel]]


def available_metrics() -> dict[str, Metric]:
    """Every registered metric whose module is installed (a missing one is skipped)."""
    out: dict[str, Metric] = {}
    for kind in metric_kinds():
        try:
            out[kind] = load_metric(kind)
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith("yunying.analytics."):
                raise
            log.warning("metric %s is not available: %s", kind, exc)
    return out


def _union(types: list[Any], discriminator: str | None = None) -> Any:
    if len(types) == 1:
        return types[0]
    union = Union[tuple(types)]  # noqa: UP007 - built from a runtime list
    return Annotated[union, Field(discriminator=discriminator)] if discriminator else union


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/projects", tags=["query"])
    metrics = available_metrics()
    if not metrics:
        return router
    runners = {kind: run for kind, (_, run) in metrics.items()}
    query_type = _union([model for model, _ in metrics.values()], discriminator="kind")
    result_type = _union([typing.get_type_hints(run)["return"] for _, run in metrics.values()])

    def run_query(
        query: Annotated[query_type, Body()],  # type: ignore[valid-type]
        project: SecretProjectDep,
        state: StateDep,
    ) -> Response:
        run = runners[query.kind]
        try:
            result = run(state.store, context_for(project), query)
        except ValueError as exc:  # includes pydantic's ValidationError
            raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"{query.kind}: {exc}") from exc
        # Returned as ready JSON: the result is already a validated model, and results of
        # different metrics need not be told apart by a field.
        return Response(result.model_dump_json(), media_type="application/json")

    router.add_api_route(
        "/{project_id}/query",
        run_query,
        methods=["POST"],
        response_model=result_type,
        summary="Run a metric query",
        description="The body's `kind` picks the metric: " + ", ".join(sorted(metrics)) + ".",
        responses={400: {"description": "The metric rejected a valid query."}},
    )
    return router


router = build_router()
