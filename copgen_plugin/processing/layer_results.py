"""Results on the map: samples and filled layer in true colour, spread in pseudocolour, all in
one layer group. Styling runs in the main thread through a layer post-processor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qgis.core import (
    QgsColorRampShader,
    QgsContrastEnhancement,
    QgsLayerTreeGroup,
    QgsMapLayer,
    QgsMultiBandColorRenderer,
    QgsProcessingContext,
    QgsProcessingFeedback,
    QgsProcessingLayerPostProcessorInterface,
    QgsRasterBandStats,
    QgsRasterLayer,
)

STYLE_DIR = Path(__file__).resolve().parents[2] / "resources" / "styles"
_KEEP: list[Any] = []  # post-processors must outlive processAlgorithm (QGIS keeps no reference)


def _band_by_name(layer: QgsRasterLayer, name: str) -> int | None:
    """The band whose description is `name` (QGIS shows it as 'Band 04: B04')."""
    for band in range(1, layer.bandCount() + 1):
        if layer.bandName(band).split(": ", 1)[-1].split(" ")[0] == name:
            return band
    return None


def style_true_colour(layer: QgsRasterLayer) -> bool:
    """B04/B03/B02 as RGB with a 2-98 % stretch per band; False if the bands are not there."""
    bands = [_band_by_name(layer, b) for b in ("B04", "B03", "B02")]
    if None in bands:
        return False
    provider = layer.dataProvider()
    renderer = QgsMultiBandColorRenderer(provider, *bands)
    setters = (renderer.setRedContrastEnhancement, renderer.setGreenContrastEnhancement,
               renderer.setBlueContrastEnhancement)
    for band, setter in zip(bands, setters, strict=True):
        low, high = provider.cumulativeCut(band, 0.02, 0.98, layer.extent(), 250_000)
        enhancement = QgsContrastEnhancement(provider.dataType(band))
        enhancement.setContrastEnhancementAlgorithm(QgsContrastEnhancement.StretchToMinimumMaximum)
        enhancement.setMinimumValue(low)
        enhancement.setMaximumValue(high)
        setter(enhancement)
    layer.setRenderer(renderer)
    return True


def style_spread(layer: QgsRasterLayer) -> None:
    """The pseudocolour ramp of resources/styles/spread.qml (item values 0..1 are positions),
    stretched over this layer's band-1 range."""
    layer.loadNamedStyle(str(STYLE_DIR / "spread.qml"))
    stats = layer.dataProvider().bandStatistics(1, QgsRasterBandStats.Max | QgsRasterBandStats.Min)
    low, high = stats.minimumValue, stats.maximumValue
    renderer = layer.renderer()
    shader = renderer.shader() if hasattr(renderer, "shader") else None
    function = shader.rasterShaderFunction() if shader is not None else None
    if function is None or not high > low:
        return
    items = [QgsColorRampShader.ColorRampItem(low + item.value * (high - low), item.color,
                                              f"{low + item.value * (high - low):.4g}")
             for item in function.colorRampItemList()]
    function.setColorRampItemList(items)
    function.setMinimumValue(low)
    function.setMaximumValue(high)
    renderer.setClassificationMin(low)
    renderer.setClassificationMax(high)
    layer.triggerRepaint()


class _GroupAndStyle(QgsProcessingLayerPostProcessorInterface):
    """Moves a loaded result into the run's layer group and styles it."""

    def __init__(self, group_name: str, name: str, kind: str) -> None:
        super().__init__()
        self.group_name, self.name, self.kind = group_name, name, kind

    def postProcessLayer(self, layer: QgsMapLayer, context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> None:
        if not isinstance(layer, QgsRasterLayer) or not layer.isValid():
            return
        layer.setName(self.name)
        root = context.project().layerTreeRoot()
        group = root.findGroup(self.group_name)
        if not isinstance(group, QgsLayerTreeGroup):
            group = root.insertGroup(0, self.group_name)
        node = root.findLayer(layer.id())
        if node is not None and node.parent() is not group:
            group.addChildNode(node.clone())
            node.parent().removeChildNode(node)
        try:
            if self.kind == "spread":
                style_spread(layer)
            elif not style_true_colour(layer):
                feedback.pushInfo(f"{layer.name()}: no B04/B03/B02 bands, default style kept")
        except Exception as exc:  # a style problem must not lose the result layer
            feedback.reportError(f"{layer.name()}: could not apply the style ({exc})")


def load_results(report: Any, request: Any, context: QgsProcessingContext, *,
                 title: str) -> list[str]:
    """Ask QGIS to load every output when the algorithm completes; returns their paths."""
    group_name = f"COP-GEN {title.split(' (')[0].lower()}: {Path(request.target.path).stem}"
    entries = [(str(request.outputs.filled), "filled", "OUTPUT"),
               (str(request.outputs.spread), "spread", "SPREAD")]
    entries += [(p, f"sample {k}", "SAMPLES") for k, p in enumerate(report.sample_paths, 1)]
    paths = []
    for path, name, output in entries:
        paths.append(path)
        details = QgsProcessingContext.LayerDetails(name, context.project(), output)
        processor = _GroupAndStyle(group_name, name, "spread" if name == "spread" else "image")
        _KEEP.append(processor)
        details.setPostProcessor(processor)
        if context.willLoadLayerOnCompletion(path):
            context.layerToLoadOnCompletionDetails(path).setPostProcessor(processor)
        else:
            context.addLayerToLoadOnCompletion(path, details)
    return paths
