"""Markdown to safe HTML: CommonMark (markdown-it-py), then an allow-list sanitizer (nh3).

Ticket text comes from requesters and from email: never trust it. Raw HTML in the source is
escaped by the renderer and whatever survives is filtered again by nh3 (links get
``rel="noopener noreferrer nofollow"``).
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def render(source: str) -> str:
    return nh3.clean(_renderer().render(source or ""), link_rel="noopener noreferrer nofollow")
