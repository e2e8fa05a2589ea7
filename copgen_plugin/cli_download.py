"""``python -m copgen_plugin download``: the headless door of copgen:download_model.

    python -m copgen_plugin download copgen-base [--out DIR] [--revision REV]

Exit status 0 with the package folder on stdout, 1 with one ``error: ...`` line on stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any


def add_command(commands: Any) -> None:
    """Register the subcommand on the main parser's subparsers."""
    p = commands.add_parser("download", help="install a model: the official weights "
                            "(converted without torch) or a ready package repository")
    p.add_argument("model", nargs="?", default="copgen-base",
                   help="copgen-base (default) or owner/name of a package repository")
    p.add_argument("--out", type=Path, help="the package folder to create (default: the "
                   "per-user models folder / MODEL)")
    p.add_argument("--revision", default="main",
                   help="branch, tag or commit of the backbone or package repository")
    p.add_argument("--vae-revision", help="of the VAE repository (default: --revision)")
    p.add_argument("--endpoint", help="hub address (default: HF_ENDPOINT or huggingface.co)")
    p.add_argument("--backbone-repo", help="repository of the backbone checkpoint")
    p.add_argument("--vae-repo", help="repository of the VAE checkpoints")
    p.add_argument("--template", type=Path, help="graph template folder (default: the "
                   "model's shipped template)")
    p.add_argument("--cache-dir", type=Path, help="download cache (default: HF_HUB_CACHE)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .cli_run import TextProgress, run_command
    from .install.download import DownloadRequest, download_model

    logging.getLogger("copgen_plugin").setLevel(logging.WARNING)
    bar = TextProgress(sys.stderr)
    request = DownloadRequest(
        model=args.model, dest=args.out, revision=args.revision,
        vae_revision=args.vae_revision, endpoint=args.endpoint,
        backbone_repo=args.backbone_repo, vae_repo=args.vae_repo, template=args.template,
        cache_dir=args.cache_dir)
    code, result = run_command(
        lambda: download_model(request, progress=None if args.quiet else bar, cancel=None,
                               info=bar.message),
        bar, interrupted="nothing was installed (partial downloads are kept in the cache and "
        "resumed next time)")
    if result is None:
        return code
    for note in result.notes:
        bar.message(f"note: {note}")
    state = "up to date" if result.reused else f"{result.downloaded_bytes / 1e6:.1f} MB downloaded"
    bar.message(f"{args.model}: {state}; " + ", ".join(
        f"{r}@{c[:12]}" for r, c in result.commits.items()))
    print(result.path)
    return 0
