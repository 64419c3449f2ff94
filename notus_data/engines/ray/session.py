"""Connecting to Ray for one job: reuse a running session, join a cluster, or start a local Ray.

- Ray already initialized in this process (a notebook, a test fixture, your own ``ray.init``): used as is, and
  left running.
- ``ray_address`` given, or ``RAY_ADDRESS`` set: join that cluster. The ``notus_data`` package of this process is
  shipped to the workers (``runtime_env.py_modules``), so the workers run exactly the driver's code, which is
  what makes the results identical to the local engine's; the cluster needs only ``ray[data]`` (with pyarrow and
  numpy, which it brings).
- Neither: a new local Ray with every core of this machine (``address="local"``), shut down at the end of the
  job. ``--ray-address auto`` joins the cluster started on this machine with ``ray start --head``.

Ray Data is set to keep the order of blocks and to show no progress bars (the job reports its own counts); the
previous settings come back afterwards.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from notus_data.errors import NotusDataError, require

INSTALL = "pip install 'notus-data[ray]'"


def import_ray() -> Any:
    """``ray`` with ``ray.data``, or a :class:`MissingDependencyError` with the install line."""
    ray = require("ray", "ray")
    require("ray.data", "ray")
    return ray


def _package_dir() -> str:
    import notus_data

    return str(Path(notus_data.__file__).parent)


@contextlib.contextmanager
def ray_session(ray_address: str | None = None) -> Iterator[dict[str, Any]]:
    """Make Ray usable for one job; yield a description of the cluster (address, CPUs, nodes, how it was
    reached, seconds spent connecting or starting it)."""
    ray = import_ray()
    started_here = False
    startup = 0.0
    how = "the Ray session already open in this process"
    if not ray.is_initialized():
        address = resolve_address(ray_address)
        kwargs: dict[str, Any] = {"logging_level": logging.WARNING}
        if address == "local":
            kwargs["include_dashboard"] = False
        else:
            kwargs["runtime_env"] = {"py_modules": [_package_dir()], "excludes": ["__pycache__", "*.pyc"]}
        began = time.perf_counter()
        try:
            ray.init(address=address, **kwargs)
        except (
            Exception
        ) as exc:  # Ray raises bare Exceptions too (a local node that does not come up in time)
            if address == "local":
                raise NotusDataError(
                    f"engine: a local Ray did not start ({type(exc).__name__}: {str(exc).strip()[:300]}); the machine "
                    "may be too busy for Ray's start-up timeouts: try again, start one yourself with `ray start "
                    "--head` and pass --ray-address auto, or use --engine local (the same output)"
                ) from exc
            raise NotusDataError(
                f"ray_address: could not connect to the Ray cluster at {address} ({type(exc).__name__}: "
                f"{str(exc).strip()[:300]}); give the address of a running cluster (`ray start --head` prints "
                "it), or leave --ray-address and RAY_ADDRESS unset to start a local Ray. A cluster started with "
                "token authentication (the default of recent Ray) also needs RAY_AUTH_MODE=token here, with its "
                "token in RAY_AUTH_TOKEN or ~/.ray/auth_token"
            ) from exc
        started_here = True
        startup = round(time.perf_counter() - began, 3)
        how = "a local Ray started for this job" if address == "local" else f"joined the cluster at {address}"
    elif ray_address:
        context = ray.get_runtime_context()
        logging.getLogger("notus_data.engines").warning(
            "Ray is already initialized in this process (cluster %s); ray_address %s is not used",
            getattr(context, "gcs_address", "?"),
            ray_address,
        )
    try:
        with _data_context():
            yield {**describe_cluster(ray), "cluster": how, "startup_seconds": startup}
    finally:
        if started_here:
            ray.shutdown()


def resolve_address(ray_address: str | None) -> str:
    """``ray_address``, else ``RAY_ADDRESS``, else ``"local"`` (a new Ray on this machine).

    Never Ray's own discovery (``address=None``): a stale ``/tmp/ray/ray_current_cluster`` left by a killed
    ``ray start`` makes it wait for a dead cluster for minutes. Pass ``auto`` to join the cluster started on this
    machine.
    """
    return ray_address or os.environ.get("RAY_ADDRESS") or "local"


def describe_cluster(ray: Any) -> dict[str, Any]:
    resources = ray.cluster_resources()
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return {
        "name": "ray",
        "ray_version": ray.__version__,
        "address": ray.get_runtime_context().gcs_address,
        "nodes": len(nodes),
        "cpus": int(resources.get("CPU", 0)),
    }


@contextlib.contextmanager
def _data_context() -> Iterator[None]:
    from ray.data import DataContext

    ctx = DataContext.get_current()
    saved = (ctx.execution_options.preserve_order, ctx.enable_progress_bars)
    # Ray Data logs every execution at INFO and says once that progress bars are off: not news for a job.
    loggers = {"ray.data": logging.WARNING, "ray.data._internal.progress": logging.ERROR}
    saved_levels = {name: logging.getLogger(name).level for name in loggers}
    ctx.execution_options.preserve_order = True
    ctx.enable_progress_bars = False
    for name, level in loggers.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        ctx.execution_options.preserve_order, ctx.enable_progress_bars = saved
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def user_error(exc: BaseException) -> NotusDataError | None:
    """The :class:`NotusDataError` inside an exception Ray raised (its causes), if any."""
    seen = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, NotusDataError):
            return current
        seen.add(id(current))
        cause = getattr(current, "cause", None)
        current = cause if isinstance(cause, BaseException) else (current.__cause__ or current.__context__)
    return None
