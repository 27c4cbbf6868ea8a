"""Load and fault test of the HTTP service on loopback: throughput, latency, errors, correctness, a worker kill.

1. Computes the offline de-identification of every document (the same function and pipeline the
   service runs, :func:`spacy_clinical_es.runtime.spark.deid_records`) with a random key.
2. Starts ``python -m spacy_clinical_es serve`` on ``127.0.0.1`` (a free port; loopback only, not
   configurable) with ``workers`` processes, the same key and a random API key in the environment
   (never on the command line, never written), and waits for ``GET /ready``.
3. Sends ``requests`` ``POST /deid`` requests (one document each, cycling over the documents) from
   ``concurrency`` client threads with keep-alive connections, and stops by itself: when all are done or
   after ``max_seconds`` (requests not sent by then are counted as ``not_sent``).
4. Fault: once ``kill_at`` of the requests are done, one worker process is killed with SIGKILL. Clients
   retry a request (up to ``retries`` times, with backoff) on a connection error or a 502/503/504; a
   request is *lost* when it never gets a 200. uvicorn's supervisor restarts the dead worker.
5. Every 200 answer is compared with the offline output of its document: de-identified text and audit
   rows must be equal, else it is *wrong*. The server's log is scanned for the gold PHI strings of the
   documents (it must contain none).

Latency is end to end per request as the client sees it (retries included), in milliseconds.
"""
from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...errors import ConfigError
from ...pipeline.deid_randomizer import DEFAULT_KEY_ENV
from ..report import write_json
from .scale import BLAS_ENV, read_texts

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"  # loopback only: the test must never reach another machine
API_KEY_ENV = "SPACY_CLINICAL_ES_API_KEY"
RETRY_STATUSES = (502, 503, 504)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def worker_pids(server_pid: int) -> list[int]:
    """The uvicorn worker processes of ``server_pid`` (its children started by ``multiprocessing.spawn``)."""
    children: list[int] = []
    task_dir = Path(f"/proc/{server_pid}/task")
    if not task_dir.is_dir():
        return children
    for task in task_dir.iterdir():
        try:
            children.extend(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    workers = []
    for pid in children:
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            workers.append(pid)
    return sorted(workers)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0.0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) of ``values`` by linear interpolation (0.0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class _Tally:
    """What the client threads count (under one lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    next_index: int = 0
    done: int = 0
    ok: int = 0
    ok_words: int = 0
    wrong: int = 0
    lost: int = 0
    retries: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    transport_errors: Counter = field(default_factory=Counter)
    lost_reasons: Counter = field(default_factory=Counter)
    ok_after_kill: int = 0
    wrong_kinds: Counter = field(default_factory=Counter)
    wrong_examples: list[dict[str, Any]] = field(default_factory=list)


def _mismatch(answer: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """What differs between an answer and the offline output (``None``: nothing)."""
    if answer.get("error") != expected["error"]:
        return "error"
    if answer.get("text") != expected["deid_text"]:
        return "text"
    if answer.get("spans") != expected["spans"]:
        return "audit"
    return None


def run_service_benchmark(
    model: Path,
    data: Path,
    output: Path,
    *,
    requests: int = 2000,
    concurrency: int = 8,
    workers: int = 2,
    kill_at: float = 0.3,
    retries: int = 5,
    max_seconds: float = 1200.0,
    startup_seconds: float = 600.0,
    request_timeout: float = 120.0,
    keep_alive: bool = False,
    limit: int | None = None,
    command: str = "",
) -> dict[str, Any]:
    """Run the load + fault test against a fresh local service and write ``output``.

    Without ``keep_alive`` each request opens its own connection, as requests from many hosts behind a load
    balancer would: uvicorn's workers share one listening socket, and a worker keeps the keep-alive
    connections it accepted, so a few long-lived client connections may all land on one worker.
    """
    import httpx
    import spacy

    from ...runtime.batch import prepare_pipeline, read_key_from
    from ...runtime.spark import deid_records

    if not model.exists():
        raise ConfigError(f"Model {model} not found: train it first (spacy project run train-deid-cnn).")
    if requests < 1 or concurrency < 1 or workers < 1:
        raise ConfigError("requests, concurrency and workers must be at least 1")
    for var in BLAS_ENV:
        os.environ.setdefault(var, "1")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    deid_key, api_key = secrets.token_hex(16), secrets.token_hex(16)
    os.environ[DEFAULT_KEY_ENV] = deid_key  # the offline run and the service (inherited) use the same key

    ids, texts = read_texts(data, limit)
    phi = _gold_phi(data, limit)
    logger.info("Offline reference: %d documents", len(texts))
    started = time.perf_counter()
    nlp, randomizer = prepare_pipeline(spacy.load(model), mode=None, seed=None, key=None)
    read_key_from(randomizer, DEFAULT_KEY_ENV)  # as the service reads it
    expected = {r["id"]: r for r in deid_records(nlp, ids, texts)}
    offline_seconds = time.perf_counter() - started
    del nlp, randomizer

    port = free_port()
    env = {**os.environ, API_KEY_ENV: api_key}
    argv = [sys.executable, "-m", "spacy_clinical_es", "serve", "--model", str(model), "--host", HOST,
            "--port", str(port), "--workers", str(workers), "--timeout", str(request_timeout)]
    log_file = tempfile.NamedTemporaryFile(prefix="serve-", suffix=".log", delete=False)  # noqa: SIM115
    load_before = os.getloadavg()
    server = subprocess.Popen(argv, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        ready_seconds = _wait_ready(base, server, startup_seconds)
        tally = _Tally()
        fault: dict[str, Any] = {"kill_at_done": int(requests * kill_at)}
        kill_done = threading.Event()
        deadline = time.monotonic() + max_seconds
        load_started = time.perf_counter()

        def killer() -> None:
            while not kill_done.is_set() and time.monotonic() < deadline:
                with tally.lock:
                    done = tally.done
                if done >= fault["kill_at_done"]:
                    before = worker_pids(server.pid)
                    fault["worker_cpu_seconds_at_kill"] = [round(cpu_seconds(pid), 1) for pid in before]
                    if before:
                        victim = before[0]
                        os.kill(victim, signal.SIGKILL)
                        fault.update(
                            killed_pid=victim,
                            workers_before=len(before),
                            at_seconds=time.perf_counter() - load_started,
                            done_at_kill=done,
                        )
                        logger.info("Killed worker %d after %d requests", victim, done)
                    kill_done.set()
                    return
                time.sleep(0.05)

        def client() -> None:
            limits = httpx.Limits(max_keepalive_connections=None if keep_alive else 0)
            with httpx.Client(base_url=base, headers=headers, timeout=request_timeout, limits=limits) as http:
                while time.monotonic() < deadline:
                    with tally.lock:
                        if tally.next_index >= requests:
                            return
                        index = tally.next_index
                        tally.next_index += 1
                    _one_request(http, index, ids, texts, expected, tally, retries, kill_done, deadline)

        threads = [threading.Thread(target=client, name=f"client-{i}") for i in range(concurrency)]
        kill_thread = threading.Thread(target=killer, name="killer")
        kill_thread.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        load_seconds = time.perf_counter() - load_started
        kill_done.set()
        kill_thread.join()
        time.sleep(2.0)
        fault["workers_after"] = len(worker_pids(server.pid))
        fault["service_answered_after_kill"] = tally.ok_after_kill > 0
        fault["ok_responses_after_kill"] = tally.ok_after_kill
        fault["ready_after_test"] = _get_status(base, "/ready") == 200
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log_file.close()
    server_log = Path(log_file.name).read_text(encoding="utf-8", errors="replace")
    Path(log_file.name).unlink()
    phi_hits = sum(1 for value in phi if value in server_log)

    not_sent = requests - tally.next_index
    report = {
        "model": str(model),
        "data": str(data),
        "command": command,
        "documents": len(texts),
        "settings": {
            "requests": requests,
            "concurrency": concurrency,
            "workers": workers,
            "retries_per_request": retries,
            "retry_on": ["connection errors", *RETRY_STATUSES],
            "max_seconds": max_seconds,
            "request_timeout_s": request_timeout,
            "host": HOST,
            "one_document_per_request": True,
            "keep_alive": keep_alive,
        },
        "offline_reference_seconds": offline_seconds,
        "service_ready_seconds": ready_seconds,
        "load_seconds": load_seconds,
        "throughput": {
            "requests_per_second": tally.ok / load_seconds if load_seconds > 0 else 0.0,
            "words_per_second": tally.ok_words / load_seconds if load_seconds > 0 else 0.0,
            "note": "200 answers (one document each) per second of the load phase; words split on whitespace",
        },
        "latency_ms": {
            "p50": percentile(tally.latencies_ms, 0.50),
            "p95": percentile(tally.latencies_ms, 0.95),
            "p99": percentile(tally.latencies_ms, 0.99),
            "max": max(tally.latencies_ms, default=0.0),
            "mean": sum(tally.latencies_ms) / len(tally.latencies_ms) if tally.latencies_ms else 0.0,
            "note": "end to end per request as the client sees it, retries included",
        },
        "requests_sent": tally.next_index,
        "not_sent_before_deadline": not_sent,
        "ok": tally.ok,
        "wrong_responses": tally.wrong,
        "wrong_by_kind": dict(tally.wrong_kinds),
        "wrong_examples": tally.wrong_examples,
        "lost_requests": tally.lost,
        "lost_reasons": dict(tally.lost_reasons),
        "client_retries": tally.retries,
        "responses_by_status": {str(k): v for k, v in sorted(tally.statuses.items())},
        "transport_errors": dict(tally.transport_errors),
        "fault": fault,
        "server_log_phi_hits": phi_hits,
        "server_log_phi_strings_checked": len(phi),
        "machine": {
            "cpu_count": os.cpu_count(),
            "load_average_before_after": [load_before[0], os.getloadavg()[0]],
            "blas_threads_per_process": {var: os.environ.get(var) for var in BLAS_ENV},
        },
        "keys": "random deid and API keys in environment variables (not written, not on the command line)",
    }
    report["passed"] = bool(
        tally.wrong == 0 and tally.lost == 0 and not_sent == 0 and phi_hits == 0 and fault.get("killed_pid")
    )
    write_json(report, output)
    logger.info(
        "%d ok, %d wrong, %d lost, %d retries; p95 %.0f ms; wrote %s",
        tally.ok, tally.wrong, tally.lost, tally.retries, report["latency_ms"]["p95"], output,
    )
    return report


def _one_request(
    http: Any,
    index: int,
    ids: list[str],
    texts: list[str],
    expected: dict[str, dict[str, Any]],
    tally: _Tally,
    retries: int,
    kill_done: threading.Event,
    deadline: float,
) -> None:
    import httpx

    doc = index % len(texts)
    body = {"id": ids[doc], "text": texts[doc]}
    started = time.perf_counter()
    reason = "retries exhausted"
    for attempt in range(retries + 1):
        if attempt:
            with tally.lock:
                tally.retries += 1
            time.sleep(min(0.2 * 2 ** (attempt - 1), 3.0))
        try:
            response = http.post("/deid", json=body)
        except httpx.TransportError as err:
            with tally.lock:
                tally.transport_errors[type(err).__name__] += 1
            reason = type(err).__name__
            continue
        with tally.lock:
            tally.statuses[response.status_code] += 1
        if response.status_code in RETRY_STATUSES:
            reason = f"status {response.status_code}"
            continue
        after_kill = kill_done.is_set()
        with tally.lock:
            tally.done += 1
            if response.status_code != 200:
                tally.lost += 1
                tally.lost_reasons[f"status {response.status_code}"] += 1
                return
            tally.ok += 1
            tally.ok_words += len(texts[doc].split())
            tally.ok_after_kill += after_kill
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            documents = response.json().get("documents", [])
            kind = "count" if len(documents) != 1 else _mismatch(documents[0], expected[ids[doc]])
            if kind is not None:
                tally.wrong += 1
                tally.wrong_kinds[kind] += 1
                if len(tally.wrong_examples) < 20:
                    tally.wrong_examples.append({"request": index, "id": ids[doc], "differs": kind})
        return
    with tally.lock:
        tally.done += 1
        tally.lost += 1
        tally.lost_reasons[reason] += 1


def _get_status(base: str, path: str) -> int:
    import httpx

    try:
        return httpx.get(base + path, timeout=10).status_code
    except httpx.TransportError:
        return 0


def _wait_ready(base: str, server: subprocess.Popen, startup_seconds: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < startup_seconds:
        if server.poll() is not None:
            raise ConfigError(f"The service exited with code {server.returncode} before it was ready.")
        if _get_status(base, "/ready") == 200:
            return time.perf_counter() - started
        time.sleep(0.5)
    raise ConfigError(f"The service was not ready within {startup_seconds:.0f} s.")


def _gold_phi(data: Path, limit: int | None) -> list[str]:
    """Distinct gold PHI strings (entities and span groups, 5+ characters) of the documents, to scan logs for."""
    import spacy
    from spacy.tokens import DocBin

    docs = list(DocBin().from_disk(data).get_docs(spacy.blank("es").vocab))[: limit or None]
    values = {span.text for doc in docs for span in doc.ents}
    values |= {span.text for doc in docs for group in doc.spans.values() for span in group}
    return sorted(v for v in values if len(v.strip()) >= 5)
