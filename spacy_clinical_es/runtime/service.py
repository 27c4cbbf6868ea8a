"""An HTTP service over a saved pipeline (FastAPI): ``POST /deid``, ``POST /annotate``, ``GET /health``, ``GET /ready``.

Started by ``python -m spacy_clinical_es serve --model PATH`` (:mod:`spacy_clinical_es.cli.serve`), which
runs :func:`app_from_env` in each uvicorn worker process; :func:`create_app` builds the same app for tests.

* ``POST /deid``: ``{"text": "...", "id": "..."}`` or ``{"documents": [{"id": ..., "text": ...}, ...]}``;
  the answer is always ``{"documents": [...]}`` with, per document, the de-identified ``text``, the audit
  (``mode``, ``n_spans``, ``spans`` with input/output offsets, label, category, action; no original text),
  ``stats`` and ``error`` (a reason, never text). ``POST /annotate`` takes the same body and returns the
  entities and span-group spans (label, offsets, text, ``kb_id``, codes).
* Limits: bodies over ``max_body_bytes`` get **413**, batches over ``max_batch`` documents **422**, a batch
  not done within ``timeout_s`` seconds **504**. Validation errors never echo the input.
* Optional API key: when set (the environment variable ``api_key_env`` or the file ``api_key_file``; never
  on the command line), ``/deid`` and ``/annotate`` need ``Authorization: Bearer KEY``, compared with
  :func:`hmac.compare_digest`; otherwise **401**.
* Request bodies and responses are never logged: handlers log counts and error *types* only, and every
  error inside the pipeline is caught before uvicorn could print a traceback quoting text.
* The pipeline is loaded in the lifespan startup, before the worker accepts connections, and runs on one
  thread per worker (spaCy pipelines are not shared between threads); the de-identification key is read
  from the environment variable ``key_env`` on every document, as by the CLI.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..errors import ClinicalEsError
from ..pipeline.deid_randomizer import DEFAULT_KEY_ENV

try:
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
except ImportError as _err:  # pragma: no cover
    raise ImportError("The service needs fastapi and uvicorn: pip install 'spacy-clinical-es[serve]'") from _err

logger = logging.getLogger(__name__)

#: Environment variable holding the API key (when no key file is given).
DEFAULT_API_KEY_ENV = "SPACY_CLINICAL_ES_API_KEY"
#: Environment variable through which ``serve`` hands its settings (no secrets) to the worker processes.
SETTINGS_ENV = "SPACY_CLINICAL_ES_SERVE_SETTINGS"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class ServiceError(ClinicalEsError):
    """The service cannot start as configured (missing model, unreadable key file, fastapi not installed)."""


@dataclass(frozen=True)
class ServiceSettings:
    """Everything a worker needs to build the app: plain values, no secrets (keys come from env/files)."""

    model: str
    mode: Optional[str] = None
    seed: Optional[int] = None
    key_env: str = DEFAULT_KEY_ENV
    api_key_env: str = DEFAULT_API_KEY_ENV
    api_key_file: Optional[str] = None
    max_body_bytes: int = 1_000_000
    max_batch: int = 64
    timeout_s: float = 30.0
    batch_size: int = 32
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, value: str) -> ServiceSettings:
        return cls(**json.loads(value))


def load_api_key(settings: ServiceSettings) -> Optional[bytes]:
    """The API key (file first, then the environment variable), or ``None`` when neither is set."""
    if settings.api_key_file:
        try:
            key = Path(settings.api_key_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise ServiceError(f"Cannot read the API key file {settings.api_key_file}: {err.strerror}") from err
        if not key:
            raise ServiceError(f"The API key file {settings.api_key_file} is empty.")
        return key.encode("utf-8")
    key = os.environ.get(settings.api_key_env, "")
    return key.encode("utf-8") if key else None


# -- the ASGI body-size limit --------------------------------------------------------------------------


class BodyLimitMiddleware:
    """Answer 413 to bodies over ``max_bytes`` (declared or streamed) before the app reads any of them.

    The body is buffered (it is at most ``max_bytes``) and replayed to the app, so no handler ever sees
    a truncated one.
    """

    def __init__(self, app: Callable[..., Awaitable[None]], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(body)
            more = message.get("more_body", False)
        replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay_receive() -> dict[str, Any]:
            return replay.pop() if replay else await receive()

        await self.app(scope, replay_receive, send)

    async def _too_large(self, send: Callable) -> None:
        body = json.dumps(
            {"detail": f"Request body larger than {self.max_bytes} bytes; send fewer or shorter documents per request."}
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


# -- request and response bodies -------------------------------------------------------------------


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Optional[str] = Field(default=None, description="Your id for the document (echoed back).")
    text: str = Field(description="The document text.")


class TextsIn(BaseModel):
    """One document (``text``, optional ``id``) or a batch (``documents``)."""

    model_config = ConfigDict(extra="forbid")
    text: Optional[str] = None
    id: Optional[str] = None
    documents: Optional[list[DocumentIn]] = None

    @model_validator(mode="after")
    def one_of(self) -> TextsIn:
        if (self.text is None) == (self.documents is None):
            raise ValueError("give either 'text' (one document) or 'documents' (a batch), not both or neither")
        if self.documents is not None and self.id is not None:
            raise ValueError("'id' goes inside each document of 'documents'")
        return self

    def pairs(self) -> tuple[list[str], list[str]]:
        if self.documents is None:
            return [self.id if self.id is not None else "0"], [self.text or ""]
        ids = [d.id if d.id is not None else str(i) for i, d in enumerate(self.documents)]
        return ids, [d.text for d in self.documents]


class DeidSpan(BaseModel):
    start: int
    end: int
    out_start: int
    out_end: int
    label: str
    category: str
    action: str


class DeidResult(BaseModel):
    id: str
    text: Optional[str] = Field(description="The de-identified text (null when error is set).")
    mode: str
    n_spans: int
    spans: list[DeidSpan]
    stats: dict[str, int]
    error: Optional[str] = Field(description="Why this document failed (never its text).")


class DeidOut(BaseModel):
    documents: list[DeidResult]


class ConceptSpan(BaseModel):
    group: str
    start: int
    end: int
    label: str
    text: str
    kb_id: Optional[str] = None
    span_id: Optional[str] = None
    codes: dict[str, str]


class AnnotateResult(BaseModel):
    id: str
    n_spans: int
    spans: list[ConceptSpan]
    error: Optional[str] = None


class AnnotateOut(BaseModel):
    documents: list[AnnotateResult]


# -- the app ---------------------------------------------------------------------------------------------


class _Engine:
    """The loaded pipeline and the one thread that runs it."""

    def __init__(self, settings: ServiceSettings, nlp: Any = None) -> None:
        self.settings = settings
        self._given = nlp
        self.nlp: Any = None
        self.randomizer: Any = None
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline")

    def load(self) -> None:
        import spacy

        from .batch import prepare_pipeline, read_key_from

        nlp = self._given if self._given is not None else spacy.load(self.settings.model)
        self.nlp, self.randomizer = prepare_pipeline(nlp, mode=self.settings.mode, seed=self.settings.seed, key=None)
        read_key_from(self.randomizer, self.settings.key_env)
        if not os.environ.get(self.settings.key_env) and self.settings.seed is None:
            logger.warning(
                "No de-identification key in %s and no seed: surrogates differ between requests.", self.settings.key_env
            )

    def deid(self, ids: list[str], texts: list[str]) -> list[dict[str, Any]]:
        from .spark import deid_records

        return deid_records(self.nlp, ids, texts, batch_size=self.settings.batch_size)

    def annotate(self, ids: list[str], texts: list[str]) -> list[dict[str, Any]]:
        from .spark import annotate_records

        return annotate_records(
            self.nlp, ids, texts, batch_size=self.settings.batch_size, disable=[self.randomizer_name]
        )

    @property
    def randomizer_name(self) -> str:
        return next(name for name, pipe in self.nlp.pipeline if pipe is self.randomizer)


def create_app(settings: ServiceSettings, *, nlp: Any = None) -> Any:
    """The FastAPI app for ``settings`` (``nlp``: an already loaded pipeline instead of ``settings.model``)."""
    api_key = load_api_key(settings)
    engine = _Engine(settings, nlp)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        started = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(engine.executor, engine.load)
        logger.info(
            "Pipeline %s ready in %.1f s (process %d)", settings.model, time.perf_counter() - started, os.getpid()
        )
        yield
        engine.executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="spacy-clinical-es",
        description="De-identification and concept annotation of Spanish clinical text.",
        lifespan=lifespan,
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default answer echoes the offending input (clinical text): keep location and message only.
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    def authorize(request: Request) -> None:
        if api_key is None:
            return
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode("utf-8"), api_key):
            raise HTTPException(
                status_code=401,
                detail="Missing or wrong API key: send 'Authorization: Bearer KEY'.",
                headers={"WWW-Authenticate": "Bearer"},
            )

    async def run(work: Callable[[list[str], list[str]], list[dict[str, Any]]], body: Any, what: str) -> list:
        ids, texts = body.pairs()
        if len(texts) > settings.max_batch:
            raise HTTPException(
                status_code=422,
                detail=f"Batch of {len(texts)} documents is over the limit of {settings.max_batch}; split it.",
            )
        if engine.nlp is None:
            raise HTTPException(status_code=503, detail="The pipeline is not loaded yet; retry after GET /ready.")
        future = engine.executor.submit(work, ids, texts)
        started = time.perf_counter()
        try:
            records = await asyncio.wait_for(asyncio.wrap_future(future), timeout=settings.timeout_s)
        except asyncio.TimeoutError:  # noqa: UP041 (not the builtin before Python 3.11)
            future.cancel()
            logger.warning("%s: %d documents not done in %.0f s (504)", what, len(texts), settings.timeout_s)
            raise HTTPException(
                status_code=504,
                detail=f"Not done within {settings.timeout_s:g} s; send fewer documents per request.",
            ) from None
        except Exception as err:  # noqa: BLE001 (its message may quote text: log the type only)
            logger.error("%s: internal error %s", what, type(err).__name__)
            raise HTTPException(status_code=500, detail=f"Internal error ({type(err).__name__}).") from None
        failed = sum(1 for r in records if r["error"])
        logger.debug("%s: %d documents (%d failed) in %.3f s", what, len(records), failed, time.perf_counter() - started)
        return records

    @app.post("/deid", response_model=DeidOut, dependencies=[Depends(authorize)])
    async def deid(body: TextsIn) -> dict[str, Any]:
        """De-identify one document or a batch; same key and settings give the same output as the CLI."""
        records = await run(engine.deid, body, "deid")
        return {"documents": [{"text": r["deid_text"], **{k: v for k, v in r.items() if k != "deid_text"}} for r in records]}

    @app.post("/annotate", response_model=AnnotateOut, dependencies=[Depends(authorize)])
    async def annotate(body: TextsIn) -> dict[str, Any]:
        """Entities and span-group spans (label, offsets, text, kb_id, codes) of one document or a batch."""
        return {"documents": await run(engine.annotate, body, "annotate")}

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: the pipeline is loaded (503 otherwise)."""
        if engine.nlp is None:
            return JSONResponse(status_code=503, content={"status": "loading"})
        return JSONResponse(
            content={
                "status": "ready",
                "pipeline": list(engine.nlp.pipe_names),
                "mode": engine.randomizer.cfg["mode"],
                "deid_key": bool(os.environ.get(settings.key_env)),
                "auth": api_key is not None,
                "limits": {
                    "max_body_bytes": settings.max_body_bytes,
                    "max_batch": settings.max_batch,
                    "timeout_s": settings.timeout_s,
                },
            }
        )

    return app


def app_from_env() -> Any:
    """uvicorn factory (``--factory``): the app for the settings ``serve`` put in :data:`SETTINGS_ENV`."""
    value = os.environ.get(SETTINGS_ENV)
    if not value:
        raise ServiceError(f"{SETTINGS_ENV} is not set; start the service with 'python -m spacy_clinical_es serve'.")
    return create_app(ServiceSettings.from_json(value))


def serve(settings: ServiceSettings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, access_log: bool = False) -> None:
    """Run the service with uvicorn (``workers`` processes sharing the socket; dead workers are restarted)."""
    try:
        import uvicorn
    except ImportError as err:
        raise ServiceError("uvicorn is not installed: pip install 'spacy-clinical-es[serve]'") from err
    from spacy.util import is_package

    if not Path(settings.model).exists() and not is_package(settings.model):
        raise ServiceError(
            f"Model not found: {settings.model}. Give a pipeline directory (nlp.to_disk) or an installed pipeline package."
        )
    if load_api_key(settings) is None and host not in LOOPBACK_HOSTS:
        logger.warning("No API key and host %s: anyone who reaches the port can call the service.", host)
    os.environ[SETTINGS_ENV] = settings.to_json()
    uvicorn.run(
        "spacy_clinical_es.runtime.service:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        log_level="info",
        timeout_graceful_shutdown=10,
    )
