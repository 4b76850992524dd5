"""HTML mail to plain Markdown-ish text, with the standard library's tokenizer.

Only text leaves this module: tags are never copied, ``script``/``style``/``head`` content
is dropped, links keep only http(s) and mailto targets. The result is stored as the ticket
text (Markdown) and rendered later by ``helpdesk.markdown``, which escapes raw HTML and
sanitizes again — so a hostile message gets two independent filters.

Structure kept: paragraphs and line breaks, list items ("- "), headings ("#"), block
quotes ("> ", so that ``quotes.strip_quotes`` can drop them from replies), links as
``[text](<url>)``, images as their alt text, ``pre`` verbatim.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_DROP = frozenset({"script", "style", "head", "title", "template", "svg", "object", "iframe"})
_BLOCK = frozenset(
    {
        "p", "div", "section", "article", "header", "footer", "table", "tr", "ul", "ol",
        "dl", "dt", "dd", "form", "center", "address", "figure", "hr",
    }
)  # fmt: skip
_SAFE_SCHEMES = ("http://", "https://", "mailto:")
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []  # finished lines
        self.line = ""  # the line being built
        self.drop = 0  # depth inside dropped elements
        self.quote = 0  # blockquote depth
        self.pre = 0
        self.links: list[tuple[str, int]] = []  # (href, position in self.line)

    # -- output
    def _prefix(self) -> str:
        return "> " * self.quote

    def newline(self, blank: bool = False) -> None:
        if self.line.strip() or blank:
            self.lines.append(self._prefix() + self.line.rstrip())
        self.line = ""

    def paragraph(self) -> None:
        self.newline()
        if self.lines and self.lines[-1].strip("> "):
            self.lines.append(self._prefix().rstrip())

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self.drop += 1
            return
        if self.drop:
            return
        attributes = dict(attrs)
        if tag == "br":
            self.newline(blank=True)
        elif tag in _BLOCK:
            self.paragraph()
        elif tag == "blockquote":
            self.paragraph()
            self.quote += 1
        elif tag == "li":
            self.newline()
            self.line = "- "
        elif tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.paragraph()
            self.line = "#" * int(tag[1]) + " "
        elif tag == "pre":
            self.paragraph()
            self.pre += 1
        elif tag in {"td", "th"} and self.line.strip():
            self.line += " | "
        elif tag == "a":
            self.links.append((attributes.get("href") or "", len(self.line)))
        elif tag == "img":
            alt = _SPACES.sub(" ", attributes.get("alt") or "").strip()
            if alt:
                self.line += f"[{alt}]"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _DROP:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self.drop = max(0, self.drop - 1)
            return
        if self.drop:
            return
        if tag in _BLOCK or tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.paragraph()
        elif tag == "blockquote":
            self.newline()
            self.quote = max(0, self.quote - 1)
            self.paragraph()
        elif tag == "pre":
            self.newline()
            self.pre = max(0, self.pre - 1)
        elif tag == "li":
            self.newline()
        elif tag == "a" and self.links:
            href, start = self.links.pop()
            label = self.line[start:].strip()
            href = href.strip()
            if href.lower().startswith(_SAFE_SCHEMES) and not re.search(r"[<>\s]", href):
                if not label or label == href or label == href.removeprefix("mailto:"):
                    self.line = self.line[:start] + f"<{href}>"
                else:
                    self.line = self.line[:start] + f"[{label}](<{href}>)"

    def handle_data(self, data: str) -> None:
        if self.drop:
            return
        if self.pre:
            first, *rest = data.split("\n")
            self.line += first
            for part in rest:
                self.newline(blank=True)
                self.line = part
            return
        text = _SPACES.sub(" ", data)
        if not self.line or self.line.endswith((" ", "- ")):
            text = text.lstrip()
        self.line += text

    def result(self) -> str:
        self.newline()
        text = "\n".join(self.lines)
        return re.sub(r"\n{3,}", "\n\n", text).strip()


def html_to_text(html: str) -> str:
    converter = _Converter()
    converter.feed(html)
    converter.close()
    return converter.result()
