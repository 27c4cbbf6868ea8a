"""Keyed randomness: every random choice is seeded by HMAC-SHA256 of a secret.

No mapping from originals to surrogates is ever stored: the generator of an
original is re-derived from ``HMAC(secret, category | normalized original |
attempt)``, so the same original gets the same surrogate wherever the same
secret is used (one document, or every document when the user gives a key).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import random

_SEED_DOMAIN = b"spacy_clinical_es.deid.seed"


def _encode(part: str) -> bytes:
    # "surrogatepass": arbitrary Python strings (lone surrogates included) hash too.
    return part.encode("utf-8", "surrogatepass")


def text_digest(text: str) -> bytes:
    """SHA-256 of a text; identifies a document without keeping it."""
    return hashlib.sha256(_encode(text)).digest()


def derive(secret: bytes, *parts: str) -> bytes:
    """HMAC-SHA256 of ``parts`` (joined by a unit separator) under ``secret``."""
    message = b"\x1f".join(_encode(p) for p in parts)
    return hmac.new(secret, message, hashlib.sha256).digest()


def master_secret(key: bytes | str | None, seed: int | None) -> bytes:
    """The secret behind a run: the key, else one derived from the seed, else random bytes."""
    if key is not None:
        return key if isinstance(key, bytes) else _encode(key)
    if seed is not None:
        return hmac.new(_SEED_DOMAIN, _encode(str(int(seed))), hashlib.sha256).digest()
    return os.urandom(32)


class Seeder:
    """Makes :class:`random.Random` generators keyed by a secret and string parts."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __repr__(self) -> str:  # never show the secret
        return "Seeder(<secret>)"

    def digest(self, *parts: str) -> bytes:
        """The keyed digest of ``parts``."""
        return derive(self._secret, *parts)

    def rng(self, *parts: str) -> random.Random:
        """A generator seeded by the keyed digest of ``parts``."""
        return random.Random(int.from_bytes(self.digest(*parts), "big"))

    def child(self, *parts: str) -> Seeder:
        """A seeder whose secret is derived from this one (e.g. per document)."""
        return Seeder(self.digest(*parts))
