"""Earlier factory names, still registered so that pipelines saved before the rename load.

Every factory of the package is named ``clinical_es_<name>`` (spaCy resolves
factories by name across all installed plugins, and bare names such as
``transformer_ner`` may collide with another plugin's). A saved pipeline keeps
the factory name it was built with in its ``config.cfg``, so each earlier
name stays registered as an alias of the current factory: same function,
same default config. setup.cfg points the earlier names' entry points here,
so ``spacy.load`` finds them without importing the package.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spacy.language import Language

from .clinical_context import make_clinical_context
from .deid_randomizer import make_deid_randomizer
from .discontinuous_ner import make_discontinuous_ner
from .entity_linker import make_entity_linker
from .generative_ner import make_generative_ner
from .phi_gazetteer import make_phi_gazetteer
from .phi_recall import make_phi_recall
from .phi_rules import make_phi_rules
from .transformer_ner import make_transformer_ner

#: earlier name -> (current name, factory function)
RENAMED: dict[str, tuple[str, Callable[..., Any]]] = {
    "clinical_entity_linker": ("clinical_es_entity_linker", make_entity_linker),
    "transformer_ner": ("clinical_es_transformer_ner", make_transformer_ner),
    "generative_ner": ("clinical_es_generative_ner", make_generative_ner),
    "discontinuous_ner": ("clinical_es_discontinuous_ner", make_discontinuous_ner),
    "phi_rules": ("clinical_es_phi_rules", make_phi_rules),
    "phi_gazetteer": ("clinical_es_phi_gazetteer", make_phi_gazetteer),
    "phi_recall": ("clinical_es_phi_recall", make_phi_recall),
    "deid_randomizer": ("clinical_es_deid_randomizer", make_deid_randomizer),
    "clinical_context": ("clinical_es_context", make_clinical_context),  # the name issue 13 gave it
}


def register_alias(old: str, new: str, func: Callable[..., Any]) -> None:
    """Register ``old`` as another name of factory ``new`` (``func``), with ``new``'s settings (idempotent)."""
    try:
        Language.get_factory_meta(old)
        return
    except ValueError:
        pass
    meta = Language.get_factory_meta(new)
    Language.factory(
        old,
        default_config=meta.default_config,
        assigns=meta.assigns,
        requires=meta.requires,
        retokenizes=meta.retokenizes,
        default_score_weights=meta.default_score_weights,
        func=func,
    )


for _old, (_new, _func) in RENAMED.items():
    register_alias(_old, _new, _func)
