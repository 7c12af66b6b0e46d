"""Every notebook runs headless and renders to a standalone HTML page with its outputs (nbclient + nbconvert), as
someone sharing a run would produce it; the suite also runs each notebook with nbmake."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbconvert import HTMLExporter

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb"))
EXPECTED_IN_PAGE = {
    "01-dataflow": ('class="dataframe', "application/vnd.jupyter.widget-view+json", "A1-T-1", "<svg"),
    "04-evidence": ('class="dataframe', "A1-S-2", "tenant-isolation", "physicalLocation"),
}
"""What the rendered page of a notebook must show beyond its title: DataFrames, the widget, the evidence."""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_the_notebook_renders_to_html_with_its_outputs(path: Path, tmp_path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    page, _ = HTMLExporter().from_notebook_node(notebook)  # type: ignore[no-untyped-call]
    (tmp_path / f"{path.stem}.html").write_text(page, encoding="utf-8")
    title = next(c.source for c in notebook.cells if c.cell_type == "markdown").splitlines()[0].lstrip("# ")
    assert page.startswith("<!DOCTYPE html>")
    assert title.split(":")[0] in page
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and not any(o.output_type == "error" for o in outputs)
    assert "Traceback" not in page
    for expected in EXPECTED_IN_PAGE.get(path.stem, ()):
        assert expected in page, expected
