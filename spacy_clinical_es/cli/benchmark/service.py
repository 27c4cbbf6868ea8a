"""``spacy-clinical-es benchmark service``: loopback load + worker-kill test of ``serve`` (metrics/service.json)."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ...evaluation.benchmarks.service import run_service_benchmark
from . import benchmark_app
from ._common import invoked_command, user_errors


@benchmark_app.command("service")
def service_command(
    model: Annotated[Path, typer.Argument(help="De-identification pipeline to serve.")],
    data: Annotated[Path, typer.Argument(help="DocBin with the documents (e.g. corpus/deid/dev.spacy).")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Metrics JSON.")] = Path("metrics/service.json"),
    requests: Annotated[int, typer.Option("--requests", min=1, help="Requests in all (one document each).")] = 2000,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Concurrent clients.")] = 8,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Service worker processes.")] = 2,
    kill_at: Annotated[
        float, typer.Option("--kill-at", min=0.0, max=1.0, help="Kill one worker once this share is done.")
    ] = 0.3,
    retries: Annotated[int, typer.Option("--retries", min=0, help="Client retries per request.")] = 5,
    max_seconds: Annotated[float, typer.Option("--max-seconds", min=1.0, help="Stop sending after this.")] = 1200.0,
    keep_alive: Annotated[
        bool, typer.Option("--keep-alive/--no-keep-alive", help="Reuse each client's connection.")
    ] = False,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="First N documents only.")] = None,
) -> None:
    """Start the service on 127.0.0.1, load it, kill a worker, check every answer against offline deid."""
    with user_errors():
        report = run_service_benchmark(
            model,
            data,
            output,
            requests=requests,
            concurrency=concurrency,
            workers=workers,
            kill_at=kill_at,
            retries=retries,
            max_seconds=max_seconds,
            keep_alive=keep_alive,
            limit=limit,
            command=invoked_command(),
        )
    latency = report["latency_ms"]
    typer.echo(
        f"{report['ok']} ok / {report['settings']['requests']} requests, {report['wrong_responses']} wrong, "
        f"{report['lost_requests']} lost, {report['client_retries']} retries, "
        f"{report['throughput']['requests_per_second']:.1f} req/s, "
        f"p50/p95/p99 {latency['p50']:.0f}/{latency['p95']:.0f}/{latency['p99']:.0f} ms"
    )
    if not report["passed"]:
        raise typer.Exit(code=1)
