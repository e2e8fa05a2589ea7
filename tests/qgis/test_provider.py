"""The provider as QGIS sees it: stable ids, metadata of every algorithm."""

from __future__ import annotations

from typing import Any

from qgis.core import (
    QgsApplication,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterLayer,
)

#: Algorithm ids are a public contract (scripts, .model3 files, qgis_process): never rename.
PINNED_IDS = {"copgen:diagnostics", "copgen:download_model", "copgen:gapfill",
              "copgen:generate", "copgen:gapfill_batch", "copgen:install_dependencies"}


def test_algorithm_ids_are_pinned(copgen_plugin: Any) -> None:
    provider = QgsApplication.processingRegistry().providerById("copgen")
    assert provider is not None
    assert provider.name() == "COP-GEN"
    assert {alg.id() for alg in provider.algorithms()} == PINNED_IDS


def test_every_algorithm_documents_itself(copgen_plugin: Any) -> None:
    provider = QgsApplication.processingRegistry().providerById("copgen")
    assert not provider.icon().isNull()
    for alg in provider.algorithms():
        assert alg.shortHelpString().strip(), alg.id()
        assert alg.displayName() and alg.group(), alg.id()
        for param in alg.parameterDefinitions():
            assert param.description(), (alg.id(), param.name())
            assert param.help().strip(), (alg.id(), param.name(), "help text")
            optional = param.flags() & QgsProcessingParameterDefinition.FlagOptional
            is_destination = param.isDestination()
            is_layer = isinstance(param, QgsProcessingParameterRasterLayer)  # no sane default
            assert optional or is_destination or is_layer or param.defaultValue() is not None, (
                alg.id(), param.name())
            if isinstance(param, QgsProcessingParameterNumber):
                assert (param.minimum() > -1e300 and param.maximum() < 1e300) or optional, (
                    alg.id(), param.name(), "numbers need bounds")
