"""Phones, e-mails, URLs, IP addresses."""
from __future__ import annotations

import re

from spacy_clinical_es.deid import randomize


def _one(text: str, label: str, seed: int = 0) -> str:
    return randomize(text, [(0, len(text), label)], seed=seed).text


def test_phones_keep_layout_and_spanish_prefix():
    for seed in range(10):
        for text in ("915 86 80 00", "618981345", "+34 954 37 06 44", "985-27-36-14", "986413144 ext 1530"):
            new = _one(text, "NUMERO_TELEFONO", seed)
            assert new != text and re.sub(r"\d", "9", new) == re.sub(r"\d", "9", text)
            national = re.sub(r"^\+34 ", "", new)
            assert national[0] == re.sub(r"^\+34 ", "", text)[0]


def test_email_url_ip_are_valid():
    for seed in range(10):
        email = _one("nnavcu@hotmail.com", "CORREO_ELECTRONICO", seed)
        assert re.fullmatch(r"[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,}", email) and "nnavcu" not in email
        url = _one("http://www.clinicagarcia.es/citas", "URL_WEB", seed)
        assert re.fullmatch(r"http://www\.[a-z]+\d+\.es/[a-z]+", url)
        ip = _one("83.45.12.201", "DIREC_PROT_INTERNET", seed)
        assert re.fullmatch(r"(192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}", ip)
        contact = _one("jgarcia@sergas.es", "CONTACTO", seed)
        assert "@" in contact and "jgarcia" not in contact
