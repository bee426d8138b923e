"""The alt text of the chapters' figures: list it, or apply a mapping of it, to the notebooks' cell metadata.

MyST-NB gives a figure (an image output of a code cell) the alt text stored in its cell's metadata,
``{"mystnb": {"image": {"alt": "..."}}}``; without it Sphinx writes the image's file name, which a
screen reader then reads out as a 64-digit hash. tests/test_site_in_browser.py checks that every
figure of every chapter has one, in the notebooks and on the built pages.

Usage (from the repository root)::

    .venv/bin/python tools/alt_text.py list                  # {notebook: {cell id: alt or null}}, as JSON
    .venv/bin/python tools/alt_text.py list --missing        # only the figures that have none
    .venv/bin/python tools/alt_text.py apply mapping.json    # write {notebook: {cell id: alt}} into the cells

``apply`` changes cell metadata only (sources and outputs stay byte for byte), so no re-execution is
needed. It is idempotent: a notebook whose alt texts already match is not rewritten. It refuses a
cell id that does not exist or a cell that has no image output, so a mapping cannot go stale
silently. A new figure needs its alt text too: ``list --missing`` names the cells, and
tests/test_site_in_browser.py fails until each has one. An alt text says what the figure shows (the
kind of plot, its axes and series, what they do), in a sentence or three: it is read out instead of
the image.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nbformat

REPO_ROOT = Path(__file__).resolve().parent.parent
BOOK_DIR = REPO_ROOT / "book"
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg", "image/gif")


def image_cells(notebook) -> list:
    """The code cells of `notebook` that have at least one image output."""
    return [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code"
        and any(kind in output.get("data", {}) for output in cell.get("outputs", []) for kind in IMAGE_TYPES)
    ]


def alt_of(cell) -> str | None:
    """The alt text stored in `cell`'s metadata, or None."""
    return cell.metadata.get("mystnb", {}).get("image", {}).get("alt")


def list_alt_texts(paths, missing_only=False) -> dict[str, dict[str, str | None]]:
    """{notebook name: {cell id: alt text or None}} for every figure of the notebooks at `paths`."""
    listing = {}
    for path in paths:
        cells = image_cells(nbformat.read(path, as_version=4))
        entries = {cell.id: alt_of(cell) for cell in cells if not (missing_only and alt_of(cell))}
        if entries:
            listing[Path(path).name] = entries
    return listing


def apply_alt_texts(path: Path, alt_texts: dict[str, str]) -> bool:
    """Store `alt_texts` ({cell id: alt}) in the notebook at `path`; return whether the file changed."""
    text = path.read_text(encoding="utf-8")
    notebook = nbformat.reads(text, as_version=nbformat.NO_CONVERT)
    cells = {cell.id: cell for cell in notebook.cells}
    with_images = {cell.id for cell in image_cells(notebook)}
    changed = False
    for cell_id, alt in alt_texts.items():
        if cell_id not in cells:
            raise SystemExit(f"{path.name}: no cell with id {cell_id!r}")
        if cell_id not in with_images:
            raise SystemExit(f"{path.name}: cell {cell_id!r} has no image output")
        if not isinstance(alt, str) or not alt.strip():
            raise SystemExit(f"{path.name}: the alt text of cell {cell_id!r} must be a non-empty string")
        image_options = cells[cell_id].metadata.setdefault("mystnb", {}).setdefault("image", {})
        if image_options.get("alt") != alt:
            image_options["alt"] = alt
            changed = True
    if changed:
        nbformat.validate(notebook)
        path.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")  # as tools/execute_notebooks.py
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="print {notebook: {cell id: alt}} as JSON")
    listing.add_argument("notebooks", nargs="*", type=Path, help="default: every book/*.ipynb")
    listing.add_argument("--missing", action="store_true", help="only figures without alt text")
    applying = commands.add_parser("apply", help="store the alt texts of a JSON mapping in the notebooks")
    applying.add_argument("mapping", type=Path, help="JSON file {notebook name: {cell id: alt}}")
    args = parser.parse_args(argv)
    if args.command == "list":
        paths = args.notebooks or sorted(BOOK_DIR.glob("*.ipynb"))
        print(json.dumps(list_alt_texts(paths, args.missing), indent=2, ensure_ascii=False))
        return 0
    mapping = json.loads(args.mapping.read_text(encoding="utf-8"))
    for name, alt_texts in mapping.items():
        path = BOOK_DIR / name
        if not path.exists():
            raise SystemExit(f"no notebook {path}")
        print(f"{'updated' if apply_alt_texts(path, alt_texts) else 'unchanged'}: book/{name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
