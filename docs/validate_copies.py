"""Shared by the calibration scripts in docs/: run `cartox validate` on edited copies of presets.

Each copy is written next to the bundled presets (models/), so that `base = "cartox"` resolves
exactly as for the original, validated by the release binary (`cartox validate --presets
<copies> --out -`, each preset's own population: n = 200, seed 1 unless `extra` says otherwise),
and removed afterwards, whatever happens. The rows are the report's CSV rows, as dicts.
"""
import csv
import io
import os
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "cartox")
MODELS = os.path.join(ROOT, "models")


def validate_copies(texts, extra=()):
    """texts: {preset name: edited TOML text}. Returns the validation rows (list of dicts)."""
    paths = []
    try:
        for name, text in texts.items():
            fd, path = tempfile.mkstemp(prefix=f"tmp-{name}-", suffix=".toml", dir=MODELS)
            with os.fdopen(fd, "w") as f:
                f.write(text)
            paths.append(path)
        out = subprocess.run([BIN, "validate", "--presets", ",".join(paths), *extra, "--out", "-"],
                             check=True, capture_output=True, text=True).stdout
    finally:
        for path in paths:
            os.unlink(path)
    return list(csv.DictReader(io.StringIO(out[out.index("product,metric"):])))
