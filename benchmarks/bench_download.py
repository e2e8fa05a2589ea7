"""What a download costs through the hub client: throughput, peak memory, resume, verification.

A fake hub (tests/install/fake_hub.py: hub + CDN redirect, as huggingface.co answers) runs in a
child process serving one random LFS file; this process downloads it with the plugin's client
into a fresh Hugging Face cache, once whole and once cut at half and resumed, and prints wall
time, MB/s and the peak RSS growth (the client streams 1 MiB chunks: memory stays flat whatever
the file size). Usage: ``.venv/bin/python benchmarks/bench_download.py [--mb 512]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

NAME, REPO_ID = "500000_nnet_ema.pth", "bench/copgen-base"


def _serve(mb: int, cut: bool, queue: mp.Queue) -> None:
    from tests.install.fake_hub import FakeHub

    data = os.urandom(mb << 20)
    hub = FakeHub({REPO_ID: {NAME: data}}, cut_once={f"{REPO_ID}/{NAME}"} if cut else set())
    queue.put(hub.start())
    time.sleep(3600)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(mb: int, cut: bool) -> None:
    from huggingface_hub import constants

    from copgen_plugin.install.hub_cache import HubCache
    from copgen_plugin.install.hub_client import HubClient

    queue: mp.Queue = mp.Queue()
    server = mp.Process(target=_serve, args=(mb, cut, queue), daemon=True)
    server.start()
    url = queue.get(timeout=120)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            constants.HF_HUB_CACHE = tmp
            client = HubClient(url)
            snapshot = client.snapshot(REPO_ID, "main")
            before = _peak_mb()
            start = time.perf_counter()
            path = HubCache().fetch(client, snapshot, NAME, lambda n: None, None)
            seconds = time.perf_counter() - start
            size = path.stat().st_size
    finally:
        server.kill()
    label = "cut at half, resumed" if cut else "whole"
    print(f"{mb} MB {label}: {seconds:.2f} s ({size / 1e6 / seconds:.0f} MB/s incl. SHA-256), "
          f"peak RSS growth {max(_peak_mb() - before, 0.0):.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=int, default=512, help="size of the file in MiB")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    run(args.mb, cut=False)
    run(args.mb, cut=True)


if __name__ == "__main__":
    main()
