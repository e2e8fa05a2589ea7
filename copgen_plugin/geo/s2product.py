"""Sentinel-2 products as delivered: a SAFE folder or zip, a STAC item, a folder of band files.

A product holds its bands at 10, 20 and 60 m in separate files; the fill reads one raster. The
product is opened where it lies (GDAL's SENTINEL2 driver and its 10/20/60 m subdatasets for a
SAFE, the asset files for a STAC item) and presented as a VRT on the product's 10 m grid: every
band named (``B01`` ... so no band mapping is typed), 20 and 60 m bands repeated onto the 10 m
grid by nearest neighbour, so that a 2 x 2 (or 6 x 6) block reads back to the native value
exactly; the footprint reads average them back onto each band group's native grid. The SCL is
exposed at its own 20 m grid. Nothing is written next to the product: the VRTs go to a folder
the caller owns (a run's temporary folder).
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape

import rasterio
from affine import Affine
from rasterio.crs import CRS

from .bands import STANDARD_ORDERS, canonical_band
from .dates import DateChoice, parse_date

_log = logging.getLogger(__name__)

#: STAC common band names (and Earth Search asset keys) -> Sentinel-2 band
COMMON_NAMES = {"coastal": "B01", "blue": "B02", "green": "B03", "red": "B04",
                "rededge1": "B05", "rededge2": "B06", "rededge3": "B07", "nir": "B08",
                "nir08": "B8A", "nir09": "B09", "cirrus": "B10", "swir16": "B11",
                "swir22": "B12"}
_BAND_FILE = re.compile(r"(?:^|_)(B\d{1,2}A?|SCL)(?:_\d{2}m)?\.(?:tif|tiff|jp2)$", re.IGNORECASE)
_RASTER_SUFFIXES = (".tif", ".tiff", ".jp2")
#: Sentinel-2 L1C/L2A digital number of 'no data' (the product's SPECIAL_VALUE NODATA)
S2_NODATA = 0.0


@dataclass(frozen=True)
class BandSource:
    """One band of a product: a GDAL dataset name, the band in it, its grid."""

    name: str
    dataset: str
    band: int
    crs: CRS
    transform: Affine
    width: int
    height: int
    dtype: str

    @property
    def pixel_m(self) -> float:
        return abs(self.transform.a)


@dataclass(frozen=True)
class S2Product:
    """A product opened where it lies: its bands, SCL, 10 m grid, date and what it is."""

    source: Path
    kind: str
    family: str
    bands: dict[str, BandSource]
    scl: BandSource | None
    date: DateChoice | None
    nodata: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def grid_band(self) -> BandSource:
        """The finest band: its grid is the stack's."""
        return min(self.bands.values(), key=lambda b: b.pixel_m)

    def describe(self) -> str:
        res = sorted({f"{b.pixel_m:g}" for b in self.bands.values()}, key=float)
        return (f"{self.kind} {self.source.name}: {self.family}, {len(self.bands)} bands at "
                f"{'/'.join(res)} m" + (", SCL at 20 m" if self.scl else ", no SCL"))


def is_product(path: Path) -> bool:
    """Whether ``path`` is a product this module opens (rather than a plain raster file)."""
    name = path.name.upper()
    if path.is_dir():
        return True
    if name.endswith(".ZIP") or name.endswith(".JSON"):
        return True
    return name.startswith("MTD_MSIL") and name.endswith(".XML")


def open_product(path: Path) -> S2Product:
    """Open a SAFE folder/zip/MTD file, a STAC item JSON or folder, or a band-file folder.

    Raises ValueError naming the product and what is wrong (a listed band file missing, a
    remote asset, a band on another CRS).
    """
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if path.is_dir():
        mtd = sorted(path.glob("MTD_MSIL*.xml"))
        if mtd:
            return _open_safe(mtd[0], path, "SAFE folder")
        items = [p for p in sorted(path.glob("*.json")) if _is_stac_item(p)]
        if items:
            return _open_stac(items[0], path)
        return _open_band_folder(path)
    if path.suffix.lower() == ".zip":
        return _open_safe(path, path, "SAFE zip")
    if path.suffix.lower() == ".json":
        if not _is_stac_item(path):
            raise ValueError(f"{path.name} is not a STAC item (no 'assets' in it)")
        return _open_stac(path, path)
    return _open_safe(path, path.parent, "SAFE folder")


def _band_source(name: str, dataset: str, band: int, ds: rasterio.io.DatasetReader
                 ) -> BandSource:
    return BandSource(name=name, dataset=dataset, band=band, crs=ds.crs,
                      transform=ds.transform, width=ds.width, height=ds.height,
                      dtype=ds.dtypes[band - 1])


def _file_has(files: list[str], band: str) -> bool:
    """Whether one of a subdataset's files is ``band``'s JPEG 2000 (B05 -> ..._B05[_20m].jp2)."""
    pat = re.compile(rf"_{band}(_\d{{2}}m)?\.jp2$", re.IGNORECASE)
    return any(pat.search(f) for f in files)


def _open_safe(mtd: Path, source: Path, kind: str) -> S2Product:
    """The SENTINEL2 driver's subdatasets -> bands; a band file the XML lists but the product
    lacks is an error (GDAL would read it as zeros)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            top = rasterio.open(mtd)
        with top:
            subs = [s for s in top.subdatasets if re.search(r":(10|20|60)m:", s)]
            tags = top.tags()
    except rasterio.errors.RasterioIOError as exc:
        raise ValueError(f"{source.name} is not a Sentinel-2 SAFE product GDAL can read: "
                         f"{exc}") from None
    if not subs:
        raise ValueError(f"{source.name}: GDAL's SENTINEL2 driver finds no 10/20/60 m "
                         "subdatasets (is it a complete L1C or L2A product?)")
    crs_codes = sorted({s.rsplit(":", 1)[-1] for s in subs})
    notes = []
    if len(crs_codes) > 1:
        notes.append(f"the product spans {', '.join(crs_codes)}; {crs_codes[0]} is used")
        subs = [s for s in subs if s.endswith(crs_codes[0])]
    family = "S2L2A" if subs[0].upper().startswith("SENTINEL2_L2A") else "S2L1C"
    bands: dict[str, BandSource] = {}
    scl: BandSource | None = None
    missing: list[str] = []
    for sub in subs:
        with rasterio.open(sub) as ds:
            files = list(ds.files)
            for i in range(1, ds.count + 1):
                raw = ds.tags(i).get("BANDNAME", "")
                name = canonical_band(raw)
                if name in STANDARD_ORDERS[family] and name not in bands:
                    if not _file_has(files, name):
                        missing.append(name)
                        continue
                    bands[name] = _band_source(name, sub, i, ds)
                elif raw == "SCL" and scl is None and _file_has(files, "SCL"):
                    scl = _band_source("SCL", sub, i, ds)
    if missing:
        raise ValueError(f"{kind} {source.name}: the file of band(s) {', '.join(sorted(missing))} "
                         "is missing although the product metadata lists it; the product is "
                         "incomplete (download it again)")
    lacking = [b for b in STANDARD_ORDERS[family] if b not in bands]
    if lacking:
        raise ValueError(f"{kind} {source.name} has no band(s) {', '.join(lacking)}")
    date = None
    for key in ("PRODUCT_START_TIME", "DATATAKE_1_DATATAKE_SENSING_START"):
        if tags.get(key):
            try:
                date = DateChoice(parse_date(tags[key]), f"{source.name} metadata {key}")
                break
            except ValueError:
                continue
    nodata = float(tags.get("SPECIAL_VALUE_NODATA", S2_NODATA))
    return S2Product(source=source, kind=kind, family=family, bands=bands, scl=scl, date=date,
                     nodata=nodata, notes=notes)


def _is_stac_item(path: Path) -> bool:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("assets"), dict)


def _asset_band(key: str, asset: dict) -> str | None:
    names = [key]
    for b in asset.get("eo:bands") or []:
        if isinstance(b, dict):
            names += [str(b.get("name", "")), str(b.get("common_name", ""))]
    for n in names:
        low = n.strip().lower()
        if low == "scl":
            return "SCL"
        if low in COMMON_NAMES:
            return COMMON_NAMES[low]
        c = canonical_band(n)
        if c in STANDARD_ORDERS["S2L1C"]:
            return c
    return None


def _open_files(files: dict[str, Path], source: Path, kind: str, date: DateChoice | None
                ) -> S2Product:
    bands: dict[str, BandSource] = {}
    scl = None
    for name, f in files.items():
        try:
            with rasterio.open(f) as ds:
                bs = _band_source(name, str(f), 1, ds)
        except rasterio.errors.RasterioIOError as exc:
            raise ValueError(f"{kind} {source.name}: band {name} ({f.name}) cannot be read: "
                             f"{exc}") from None
        if name == "SCL":
            scl = bs
        else:
            bands[name] = bs
    if not bands:
        raise ValueError(f"{kind} {source.name} holds no Sentinel-2 band files (B02.tif, "
                         "..._B02_10m.jp2 or STAC assets named blue, B02, ...)")
    crs = {b.crs for b in [*bands.values(), *([scl] if scl else [])]}
    if len(crs) > 1:
        raise ValueError(f"{kind} {source.name}: band files on different CRSs "
                         f"({', '.join(sorted(c.to_string() for c in crs))})")
    family = "S2L1C" if "B10" in bands else "S2L2A"
    notes = []
    lacking = [b for b in STANDARD_ORDERS[family] if b not in bands]
    if lacking:
        notes.append(f"{source.name} has no band(s) {', '.join(lacking)}")
    return S2Product(source=source, kind=kind, family=family, bands=bands, scl=scl, date=date,
                     nodata=S2_NODATA, notes=notes)


def _open_stac(item: Path, source: Path) -> S2Product:
    doc = json.loads(item.read_text())
    files: dict[str, Path] = {}
    for key, asset in doc["assets"].items():
        if not isinstance(asset, dict) or "href" not in asset:
            continue
        band = _asset_band(key, asset)
        href = str(asset["href"])
        if band is None or band in files:
            continue
        if re.match(r"^[a-z][a-z0-9+.-]*://", href) and not href.startswith("file://"):
            raise ValueError(f"STAC item {item.name}: asset {key} is remote ({href}); download "
                             "the assets and point their hrefs at the local files")
        p = Path(href.removeprefix("file://"))
        p = p if p.is_absolute() else (item.parent / p)
        if not p.is_file():
            raise ValueError(f"STAC item {item.name}: asset {key} file {p} does not exist")
        files[band] = p
    props = doc.get("properties") or {}
    date = None
    for key in ("datetime", "start_datetime"):
        if props.get(key):
            try:
                date = DateChoice(parse_date(str(props[key])), f"STAC item {item.name} {key}")
                break
            except ValueError:
                continue
    return _open_files(files, source, "STAC item", date)


def _open_band_folder(folder: Path) -> S2Product:
    files: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        m = _BAND_FILE.search(f.name)
        if m and f.suffix.lower() in _RASTER_SUFFIXES:
            name = "SCL" if m.group(1).upper() == "SCL" else canonical_band(m.group(1))
            files.setdefault(name, f)
    return _open_files(files, folder, "band folder", None)


def _source_xml(b: BandSource, grid: BandSource) -> str:
    """A VRT source placing band ``b`` on ``grid``'s pixels by its georeference."""
    f = b.pixel_m / grid.pixel_m
    x = (b.transform.c - grid.transform.c) / grid.pixel_m
    y = (grid.transform.f - b.transform.f) / grid.pixel_m
    return (f'<SimpleSource resampling="nearest"><SourceFilename relativeToVRT="0">'
            f"{escape(b.dataset)}</SourceFilename><SourceBand>{b.band}</SourceBand>"
            f'<SrcRect xOff="0" yOff="0" xSize="{b.width}" ySize="{b.height}"/>'
            f'<DstRect xOff="{x:.10g}" yOff="{y:.10g}" xSize="{b.width * f:.10g}" '
            f'ySize="{b.height * f:.10g}"/></SimpleSource>')


_GDAL_TYPES = {"uint8": "Byte", "uint16": "UInt16", "int16": "Int16", "uint32": "UInt32",
               "int32": "Int32", "float32": "Float32", "float64": "Float64"}


def _vrt(grid: BandSource, bands: list[BandSource], dtype: str, nodata: float | None,
         tags: dict[str, str]) -> str:
    t = grid.transform
    md = "".join(f'<MDI key="{escape(k)}">{escape(v)}</MDI>' for k, v in tags.items())
    parts = [f'<VRTDataset rasterXSize="{grid.width}" rasterYSize="{grid.height}">',
             f"<SRS>{escape(grid.crs.to_wkt())}</SRS>",
             f"<GeoTransform>{t.c!r}, {t.a!r}, {t.b!r}, {t.f!r}, {t.d!r}, {t.e!r}</GeoTransform>",
             f"<Metadata>{md}</Metadata>"]
    for i, b in enumerate(bands, start=1):
        nd = f"<NoDataValue>{nodata:g}</NoDataValue>" if nodata is not None else ""
        parts.append(f'<VRTRasterBand dataType="{_GDAL_TYPES[dtype]}" band="{i}">'
                     f"<Description>{b.name}</Description>{nd}{_source_xml(b, grid)}"
                     "</VRTRasterBand>")
    parts.append("</VRTDataset>")
    return "\n".join(parts) + "\n"


def write_stack(product: S2Product, folder: Path) -> Path:
    """The product's bands as one raster on its 10 m grid, in the family's product order,
    named by band description, with the product's nodata and date as tags."""
    grid = product.grid_band
    order = [b for b in STANDARD_ORDERS[product.family] if b in product.bands]
    dtypes = {product.bands[b].dtype for b in order}
    if len(dtypes) != 1:
        raise ValueError(f"{product.source.name}: bands of different types {sorted(dtypes)}")
    tags = {"COPGEN_PRODUCT": str(product.source)}
    if product.date is not None:
        tags["PRODUCT_START_TIME"] = product.date.date.isoformat()
    out = folder / f"{product.source.stem}_{product.family}.vrt"
    out.write_text(_vrt(grid, [product.bands[b] for b in order], dtypes.pop(), product.nodata,
                        tags))
    return out


def write_scl(product: S2Product, folder: Path) -> Path:
    """The product's SCL band as a one-band raster on its own (20 m) grid."""
    if product.scl is None:
        raise ValueError(f"{product.kind} {product.source.name} has no SCL band (L1C products "
                         "and STAC items without an SCL asset have none); use another mask "
                         "source")
    out = folder / f"{product.source.stem}_SCL.vrt"
    out.write_text(_vrt(product.scl, [product.scl], product.scl.dtype, None, {}))
    return out
