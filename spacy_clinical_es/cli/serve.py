"""``spacy-clinical-es serve``: the HTTP service (:mod:`spacy_clinical_es.runtime.service`) under uvicorn.

Secrets never go on the command line (other users see it in ``ps``): the de-identification key is read
from the environment variable ``--key-env`` (default ``SPACY_CLINICAL_ES_DEID_KEY``) and the API key
from ``--api-key-file`` or the environment variable ``--api-key-env`` (default ``SPACY_CLINICAL_ES_API_KEY``).
"""

# typer evaluates these annotations at runtime, so they keep ``Optional``.
from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..errors import ClinicalEsError
from ..pipeline.deid_randomizer import DEFAULT_KEY_ENV
from . import app

logger = logging.getLogger(__name__)

DEFAULT_API_KEY_ENV = "SPACY_CLINICAL_ES_API_KEY"  # the same as runtime.service's (not imported: fastapi is optional)


@app.command("serve")
def serve_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Pipeline directory or installed pipeline package.")],
    host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (one pipeline each).")] = 1,
    mode: Annotated[Optional[str], typer.Option("--mode", help="surrogate, mask or redact.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Reproducible surrogates without a key.")] = None,
    key_env: Annotated[str, typer.Option("--key-env", help="Environment variable with the deid key.")] = DEFAULT_KEY_ENV,
    api_key_env: Annotated[
        str, typer.Option("--api-key-env", help="Environment variable with the API key (unset: no auth).")
    ] = DEFAULT_API_KEY_ENV,
    api_key_file: Annotated[
        Optional[Path], typer.Option("--api-key-file", help="File holding the API key (wins over --api-key-env).")
    ] = None,
    max_body_bytes: Annotated[int, typer.Option("--max-body-bytes", min=1, help="Larger bodies get 413.")] = 1_000_000,
    max_batch: Annotated[int, typer.Option("--max-batch", min=1, help="Longer batches get 422.")] = 64,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per request before 504.")] = 30.0,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="nlp.pipe batch size.")] = 32,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="uvicorn's access log (method, path, status).")
    ] = False,
) -> None:
    """Serve POST /deid, POST /annotate, GET /health, GET /ready and the OpenAPI page (/docs) for MODEL."""
    try:
        from ..runtime.service import ServiceSettings, serve
    except ImportError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err
    settings = ServiceSettings(
        model=model,
        mode=mode,
        seed=seed,
        key_env=key_env,
        api_key_env=api_key_env,
        api_key_file=str(api_key_file) if api_key_file else None,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        timeout_s=timeout,
        batch_size=batch_size,
    )
    try:
        serve(settings, host=host, port=port, workers=workers, access_log=access_log)
    except ClinicalEsError as err:
        typer.echo(f"Error: {err}", err=True)
        raise typer.Exit(code=1) from err
