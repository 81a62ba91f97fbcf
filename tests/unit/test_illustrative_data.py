"""The illustrative data: every invariant holds, and the generator reproduces the files exactly."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parents[2] / "data" / "boundaries"


def generator():
    spec = importlib.util.spec_from_file_location("make_illustrative", FOLDER / "make_illustrative.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_committed_files_pass_every_check(capsys):
    assert generator().check(FOLDER) == 0, capsys.readouterr().out


def test_generator_is_deterministic(tmp_path):
    assert generator().main(["--out", str(tmp_path)]) == 0
    for path in sorted(FOLDER.glob("*.geojson")):
        made = tmp_path / path.name
        assert hashlib.sha256(made.read_bytes()).digest() == hashlib.sha256(path.read_bytes()).digest(), path.name
