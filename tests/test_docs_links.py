"""README.md and docs/*.md: every relative link reaches a file, and the heading it names (GitHub's anchor rule);
the README stays a first page, at most 150 lines with two pictures, opening with the commands CI runs."""
from __future__ import annotations

import re
import struct
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 150
PICTURE_WIDTH = 1400

FENCED_BLOCK = re.compile(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"`[^`\n]*`")
# [text](target) or ![alt](target), an optional "title" after the target; and HTML's <img src="target">
MARKDOWN_LINK = re.compile(r"(!?)\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_IMAGE = re.compile(r"<img\b[^>]*?\bsrc=\"([^\"]+)\"", re.IGNORECASE)
HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.+?)(?:\s+#+)?\s*$", re.MULTILINE)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def prose(text: str) -> str:
    """The text without its code blocks: a `# comment` in a bash block is no heading, `[x](y)` in code no link."""
    return FENCED_BLOCK.sub("", text)


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: its text as shown, lower-cased, punctuation dropped but for '-' and '_',
    each space a '-'."""
    shown = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link shows its text
    shown = shown.replace("`", "").replace("*", "")
    return re.sub(r"[^\w\- ]", "", shown.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor on `page`; a repeated one gets -1, -2, ... as GitHub numbers them."""
    seen: dict[str, int] = {}
    found = set()
    for heading in HEADING.findall(prose(page.read_text(encoding="utf-8"))):
        slug = anchor(heading)
        found.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return found


def links(page: Path) -> list[tuple[str, bool]]:
    """(target, is a picture) for every link and picture on `page`, outside code."""
    text = CODE_SPAN.sub("", prose(page.read_text(encoding="utf-8")))
    found = [(target, bang == "!") for bang, target in MARKDOWN_LINK.findall(text)]
    return found + [(target, True) for target in HTML_IMAGE.findall(text)]


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with each relative link on `page`, one line each: a missing file (or one outside `root`), or
    a missing heading."""
    problems = []
    for target, _ in links(page):
        if SCHEME.match(target):  # https:, mailto: ... are not checked: no network in tests
            continue
        path_part, _, fragment = target.partition("#")
        file = (page.parent / unquote(path_part)).resolve() if path_part else page
        where = f"{page.relative_to(root)}: ({target})"
        if not file.is_relative_to(root) or not file.exists():
            problems.append(f"{where} names {unquote(path_part)!r}, which does not exist")
        elif fragment and (file.suffix != ".md" or unquote(fragment) not in anchors(file)):
            problems.append(f"{where}: {file.relative_to(root)} has no heading whose anchor is #{fragment}")
    return problems


def png_size(path: Path) -> tuple[int, int]:
    assert path.is_file(), f"{path.relative_to(ROOT)} does not exist"
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path.relative_to(ROOT)} is not a PNG"
    return struct.unpack(">II", header[16:24])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_reaches_its_file_and_heading(page):
    assert links(page), f"{page.relative_to(ROOT)} links nowhere (not even back to the README)"
    problems = broken_links(page)
    assert not problems, "\n".join(problems)


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(README.parent / target.partition("#")[0]).resolve() for target, _ in links(README)}
    orphans = [str(page.relative_to(ROOT)) for page in PAGES[1:] if page.resolve() not in linked]
    assert not orphans, f"docs pages the README does not link to: {orphans}"


def test_the_readme_is_a_first_page_with_two_pictures():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines, {README_MAX_LINES} at most"
    pictures = sorted({target for target, picture in links(README) if picture})
    assert pictures == ["docs/compare.png", "docs/topics.png"], pictures
    for picture in pictures:
        width, height = png_size(ROOT / picture)
        assert width == PICTURE_WIDTH and height > 0, f"{picture} is {width} px wide, not {PICTURE_WIDTH}"


def test_the_readme_gives_the_commands_ci_runs():
    blocks = re.findall(r"^```bash\n(.*?)^```", README.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL)
    assert blocks[:2] == ["pip install -r requirements.txt && streamlit run app.py\n", "python -m pytest -q\n"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "# the README's test command\npython -m pytest -q\n" in ci


def test_anchors_follow_githubs_rule():
    # anchors GitHub gives these headings (BENCHMARKS.md and docs/ link to them)
    assert anchor("Uploads: memory against size (issue 33)") == "uploads-memory-against-size-issue-33"
    assert anchor("Prediction jobs: `predict --queue`, `jobs`") == "prediction-jobs-predict---queue-jobs"
    assert anchor("Coherence, ours and the literature's") == "coherence-ours-and-the-literatures"
    assert anchor("bf16 autocast on CPU, and the Hugging Face Trainer row (issue 11)") == \
        "bf16-autocast-on-cpu-and-the-hugging-face-trainer-row-issue-11"


def test_a_broken_link_is_found(tmp_path):
    (tmp_path / "other.md").write_text("# Title\n\n## Same\n\n## Same\n\n```bash\n# not a heading\n```\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](other.md#same-1) [ok](#here) ![ok](other.md) [web](https://example.org/x)\n"
                    "# Here\n\n`[in code](gone.md)`\n\n```\n[in a block](gone.md)\n```\n"
                    "[no file](gone.md) [no heading](other.md#not-a-heading) [twice](other.md#same-2) "
                    '<img src="gone.png">\n')
    problems = broken_links(page, root=tmp_path)
    named = ["(gone.md) names", "(other.md#not-a-heading): other.md has no heading", "(other.md#same-2): other.md",
             "(gone.png) names"]
    assert len(problems) == len(named), problems
    assert all(f"page.md: {n}" in p for n, p in zip(named, problems, strict=True)), problems
