"""The `>>>` examples of docs/python.md run as doctests, block by block, in one namespace (in a
temporary directory: they write figures)."""

from __future__ import annotations

import doctest
import re

from conftest import ROOT


def test_docs_python_md_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = (ROOT / "docs" / "python.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    examples = "\n\n".join(b for b in blocks if b.lstrip().startswith(">>>"))
    test = doctest.DocTestParser().get_doctest(examples, {}, "docs/python.md", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 20
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed (see above)"
    assert (tmp_path / "patient.svg").read_bytes().startswith(b"<svg")
    assert (tmp_path / "doses.png").read_bytes()[:4] == b"\x89PNG"
