"""RFC 3339 times as facefix writes them (chrono: up to nine fraction digits, `Z`)."""

from __future__ import annotations

import re
from datetime import datetime

_FRACTION = re.compile(r"\.(\d+)")


def parse_time(text: str) -> float:
    """Unix seconds. Python's parser takes at most six fraction digits: cut the rest."""
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
