"""Typed access to the service state from a route: `StateDep`, and `state_of` for the hot routes.

The state lives on ``request.app.state.service`` (set by `create_app`). Metadata routes take it as
a FastAPI dependency, ``state: StateDep``. The prediction routes call `state_of(request)` instead:
FastAPI solves dependencies on every request, and on the routes the benchmark drives that solve
is a measurable share of the time (see `docs/performance.md`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from service.state import ServiceState


def state_of(request: Request) -> ServiceState:
    """The state of the app that is answering ``request``."""
    state: ServiceState = request.app.state.service
    return state


async def get_state(request: Request) -> ServiceState:
    """`state_of` as a dependency (async, so FastAPI calls it on the loop, not in a thread)."""
    return state_of(request)


StateDep = Annotated[ServiceState, Depends(get_state)]
