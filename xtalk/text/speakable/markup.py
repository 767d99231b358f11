"""Markdown, HTML, emoji, URLs and e-mail addresses made speakable."""

from __future__ import annotations

import html
import re

_EMOJI_RE = re.compile(
    "["
    "\U0001F000-\U0001FAFF"  # pictographs, emoticons, transport, flags, symbols & pictographs
    "\U0001FC00-\U0001FFFF"
    "\u2600-\u27BF"  # miscellaneous symbols, dingbats
    "\u2B00-\u2BFF"  # stars, arrows
    "\u2300-\u23FF"  # watch, hourglass, keyboard...
    "\u2190-\u21FF"  # arrows (a spoken "to" is added for "→" before this runs)
    "\u25A0-\u25FF"  # geometric shapes
    "\uFE00-\uFE0F"  # variation selectors
    "\u200D\u20E3\u2122\u00AE\u00A9\u3030\u303D\u3297\u3299"
    "\U000E0020-\U000E007F"  # tag characters (subdivision flags)
    "]+"
)
_EMOTICON_RE = re.compile(r"(?<![\w)(])[:;]-?[)(DPp](?![\w)(])")

_FENCE_RE = re.compile(r"(```|~~~).*?(?:\1|\Z)", re.DOTALL)
_HTML_BLOCK_RE = re.compile(r"<(script|style)\b.*?(?:</\1\s*>|\Z)", re.DOTALL | re.IGNORECASE)
_HTML_BREAK_RE = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/tr)\b[^>]*>", re.IGNORECASE)
_HTML_TAG_RE = re.compile(r"<!--.*?-->|</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>", re.DOTALL)
_AUTOLINK_RE = re.compile(r"<((?:https?|ftp)://[^<>\s]+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)>")

_IMAGE_OR_LINK_RE = re.compile(
    r"!?\[([^\[\]\n]{0,300})\]\(\s*<?([^()\[\]\s>]*)>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)"
)
_REF_LINK_RE = re.compile(r"\[([^\[\]\n]{1,300})\]\[[^\[\]\n]{0,100}\]")
_REF_DEF_RE = re.compile(r"^\s{0,3}\[[^\[\]\n]{1,100}\]:\s+\S+.*$", re.MULTILINE)
_FOOTNOTE_RE = re.compile(r"\[\^[\w-]{1,16}\]")
_CITATION_RE = re.compile(r"\[\d+(?:\s*[,-]\s*\d+)*\]")

_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}(?:\s+|$)")
_HEADING_CLOSE_RE = re.compile(r"\s+#+\s*$")
_QUOTE_RE = re.compile(r"^\s*(?:>\s?)+")
_BULLET_RE = re.compile(r"^\s*(?:[-*+•▪◦‣·]|\d{1,3}[.)]|[a-z]\))\s+")
_TASK_RE = re.compile(r"^\[[ xX]\]\s+")
_RULE_RE = re.compile(r"^\s*(?:(?:[-*_]\s*){3,}|=+|-+)\s*$")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")

_CODE_SPAN_RE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
# Contents exclude their own delimiter so an unclosed one costs linear time, not quadratic.
_EMPHASIS_RES = (
    re.compile(r"\*\*\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*\*\*"),
    re.compile(r"\*\*(?=[^\s*])((?:[^*]|\*(?!\*))+?)(?<=[^\s*])\*\*"),
    re.compile(r"(?<!\w)___(?=[^\s_])([^_]+?)(?<=[^\s_])___(?!\w)"),
    re.compile(r"(?<!\w)__(?=[^\s_])((?:[^_]|_(?!_))+?)(?<=[^\s_])__(?!\w)"),
    re.compile(r"(?<![\w*])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])"),
    re.compile(r"(?<!\w)_(?=[^\s_])([^_]+?)(?<=[^\s_])_(?!\w)"),
    re.compile(r"~~(?=[^\s~])((?:[^~]|~(?!~))+?)(?<=[^\s~])~~"),
)

_EMAIL_RE = re.compile(r"(?<![\w.+/:-])([\w.+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_URL_RE = re.compile(
    r"\b(?:(?:https?|ftp)://|www\.)[^\s<>()\[\]{}\"'`]+"
    r"|\b(?:[A-Za-z0-9-]{1,63}\.){1,8}(?:com|org|net|io|dev|ai|edu|gov|co|uk|de|fr|app|info|me)"
    r"/[^\s<>()\[\]{}\"'`]*",
    re.IGNORECASE,
)

_TRAILING = re.compile(r"[.,;:!?]+$")


def _drop_fence(match: re.Match[str]) -> str:
    """A code block becomes a paragraph break (or a space when it sat inside a line)."""
    before = match.string[:match.start()].rstrip(" ")
    return "\n\n" if not before or before.endswith("\n") else " "


def _strip_markup(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _FENCE_RE.sub(_drop_fence, text)
    text = _HTML_BLOCK_RE.sub(" ", text)
    text = _AUTOLINK_RE.sub(r" \1 ", text)
    text = _HTML_BREAK_RE.sub("\n", text)
    text = _HTML_TAG_RE.sub("", text)
    text = html.unescape(text).replace("\u00a0", " ")
    text = _REF_DEF_RE.sub("", text)

    def link(match: re.Match[str]) -> str:
        label = match.group(1).strip()
        return label if label else match.group(2)

    text = _IMAGE_OR_LINK_RE.sub(link, text)
    text = _REF_LINK_RE.sub(r"\1", text)
    text = _FOOTNOTE_RE.sub("", text)
    text = _CITATION_RE.sub("", text)
    text = _CODE_SPAN_RE.sub(lambda m: m.group(2).strip(), text)
    text = text.replace("`", "")
    return _join_lines(text)


def _terminate(line: str) -> str:
    line = line.rstrip()
    if line and (line[-1].isalnum() or line[-1] in "%)\"'’”"):
        return line + "."
    return line


def _table_row(line: str) -> str | None:
    stripped = line.strip()
    if stripped.count("|") < 2 and not (stripped.startswith("|") or stripped.endswith("|")):
        return None
    cells = [c.strip() for c in stripped.strip("|").split("|")]
    cells = [c for c in cells if c]
    return ", ".join(cells)


def _join_lines(text: str) -> str:
    parts: list[str] = []
    paragraph_end = True  # the previous line closed a block
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            if parts:
                parts[-1] = _terminate(parts[-1])
            paragraph_end = True
            continue
        if _TABLE_SEP_RE.match(line) or _RULE_RE.match(line):
            if parts:
                parts[-1] = _terminate(parts[-1])
            paragraph_end = True
            continue
        block = False
        if _HEADING_RE.match(line):
            line = _HEADING_CLOSE_RE.sub("", _HEADING_RE.sub("", line))
            block = True
        line = _QUOTE_RE.sub("", line)
        if _BULLET_RE.match(line):
            line = _BULLET_RE.sub("", line)
            block = True
        line = _TASK_RE.sub("", line)
        if "|" in line:
            row = _table_row(line)
            if row is not None:
                line, block = row, True
        line = line.strip()
        if not line:
            continue
        if (block or paragraph_end) and parts:
            parts[-1] = _terminate(parts[-1])
        parts.append(line)
        paragraph_end = block
    if len(parts) > 1:
        parts[-1] = _terminate(parts[-1])
    return " ".join(parts)


def _strip_emphasis(text: str) -> str:
    for _ in range(3):  # nested emphasis (**bold _italic_**)
        before = text
        for pattern in _EMPHASIS_RES:
            text = pattern.sub(r"\1", text)
        if text == before:
            break
    return text


# --------------------------------------------------------------------------- URLs, e-mail
def _speak_email(match: re.Match[str]) -> str:
    local, domain = match.group(1).strip("."), match.group(2)
    local = re.sub(r"[._]", " dot ", local).replace("+", " plus ").replace("-", " dash ")
    domain = domain.replace(".", " dot ")
    return f"{local} at {domain}"


def _speak_url(match: re.Match[str]) -> str:
    url = match.group(0)
    trailing = _TRAILING.search(url)
    tail = ""
    if trailing:
        tail, url = trailing.group(0), url[: trailing.start()]
    host = re.sub(r"^[a-z]+://", "", url, flags=re.IGNORECASE)
    host = re.split(r"[/?#]", host, maxsplit=1)[0]
    host = host.rsplit("@", 1)[-1]
    host = re.sub(r":\d+$", "", host)
    host = re.sub(r"^www\d?\.", "", host, flags=re.IGNORECASE)
    return host.lower() + tail


def plain_text(text: str) -> str:
    """``text`` without markup, code blocks, emoji and emphasis, its URLs and e-mail
    addresses written out."""
    text = _strip_markup(text)
    text = _EMOJI_RE.sub(" ", text.replace("→", " to "))
    text = _EMOTICON_RE.sub(" ", text)
    text = _strip_emphasis(text)
    text = _EMAIL_RE.sub(_speak_email, text)
    return _URL_RE.sub(_speak_url, text)
