"""Text from users (file names, labels, reader errors) shown through Markdown as plain text."""
from __future__ import annotations

import re

# Every ASCII punctuation mark may be backslash-escaped in CommonMark; these are the ones
# Markdown, Streamlit's extensions (:emoji:, :red[...], $math$) or HTML could act on.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:&=\"'])")


def escape(text: object) -> str:
    """`text` with every character Markdown could act on escaped, so it shows as written."""
    return _SPECIAL.sub(r"\\\1", str(text))
