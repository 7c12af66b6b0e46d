"""Replaying a trace: a conformance machine bound to the target a replay file's recipe describes.

The runnable pytest files `parsec-tm fuzz` writes (`trace.write_pytest`) call the machine's rules one by one inside
`replay(RECIPE)`. This module sits on top of the harness — it imports the machine, the runner and the targets —
so that `trace`, which every one of them imports, depends on none of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from parsec_tm.conformance.machine import Campaign, ConformanceMachine, machine_class
from parsec_tm.conformance.runner import start_software_target
from parsec_tm.conformance.target import SocketTarget, Target
from parsec_tm.conformance.trace import REPLAY_SOCKET_ENV, REPLAY_WORKLOAD_ENV


@contextmanager
def replay(recipe: dict[str, Any]) -> Iterator[ConformanceMachine]:
    """A machine bound to the target `recipe` describes, for a replay file; the run is torn down on exit.

    Recipes: {"socket": PATH, "auth": "direct"|"peer"|"jwt-svid", "workload_endpoint": URI (jwt-svid only)} for a
    running service, or {"software_service": True, "auth": ..., "admin": NAME} for a software-provider service
    started here (traces with crashes and reloads).
    """
    target: Target
    if "socket" in recipe:
        socket_path = os.environ.get(REPLAY_SOCKET_ENV, recipe["socket"])
        workload_endpoint = recipe.get("workload_endpoint")
        if workload_endpoint is not None:
            workload_endpoint = os.environ.get(REPLAY_WORKLOAD_ENV, workload_endpoint)
        target = SocketTarget(
            f"unix:{socket_path}",
            recipe["auth"],
            tenants=recipe.get("tenants", 3),
            workload_endpoint=workload_endpoint,
        )
    elif recipe.get("software_service"):
        target = start_software_target(recipe["auth"], admin=recipe.get("admin", ""))
    else:
        raise ValueError(f"unknown replay recipe {recipe!r}")
    try:
        campaign = Campaign(target)
        machine = machine_class(campaign)(campaign)
        try:
            yield machine
        finally:
            machine.teardown()
    finally:
        target.close()
