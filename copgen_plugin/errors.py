"""Exception hierarchy of the plugin (engine, geo, fill, model packages, hub, the two doors).

Every error the plugin raises on purpose derives from :class:`CopgenError`, so the QGIS layer
can turn all of them into a ``QgsProcessingException`` with one ``except`` clause, while tests
and the CLI can still tell the cases apart.
"""

from __future__ import annotations


class CopgenError(Exception):
    """Base class of every deliberate error (a user-facing message)."""


class PackageError(CopgenError):
    """The model package is unusable: bad manifest, missing or changed file, wrong shapes."""


class ManifestError(PackageError):
    """``manifest.json`` is missing, not JSON, or does not describe a valid package."""


class MissingFileError(PackageError):
    """A file the manifest lists is not in the package folder."""


class ChangedFileError(PackageError):
    """A package file differs from the manifest (size or SHA-256)."""


class ModelLoadError(PackageError):
    """ONNX Runtime could not load a graph (corrupted or truncated file, wrong interface)."""


class InferenceError(CopgenError):
    """ONNX Runtime failed while running a graph that had loaded."""


class ModalityError(CopgenError):
    """A modality key is unknown, or a modality is used in a way its kind does not allow."""


class InputError(CopgenError):
    """A request or an input array is invalid (shape, dtype, value range, conflicting roles)."""


class DeviceError(CopgenError):
    """The requested execution device cannot be used at all."""


class Cancelled(CopgenError):  # noqa: N818 - the name the QGIS layer expects
    """The caller asked to stop; raised between solver steps."""


class CheckpointError(CopgenError):
    """A weight file is unreadable, unsafe (pickle code), a git-LFS pointer, or does not fit."""


class InstallError(CopgenError):
    """A model package could not be installed from checkpoints (template, sources, target)."""


class HubError(CopgenError):
    """A download problem a user can act on (no repository, no access, no network, bad data)."""


class HubUnreachableError(HubError):
    """The hub or its file server did not answer at all (no network, wrong address, proxy)."""


class OutputError(CopgenError):
    """An output could not be written completely (disk full, file size limit, I/O error);
    nothing of it is published."""
