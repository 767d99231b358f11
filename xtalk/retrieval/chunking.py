"""Split documents into overlapping, paragraph-aware chunks for retrieval."""

from __future__ import annotations

import re


def chunk_text(text: str, max_chars: int = 800, overlap_chars: int = 150) -> list[str]:
    """Split ``text`` at paragraph, then sentence boundaries into chunks of at most
    ``max_chars``, each starting with up to ``overlap_chars`` of the previous one."""
    if max_chars <= overlap_chars:
        raise ValueError("max_chars must exceed overlap_chars")
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = " ".join(paragraph.split())
        if not paragraph:
            continue
        if len(paragraph) <= max_chars:
            pieces.append(paragraph)
            continue
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            while len(sentence) > max_chars:
                cut = sentence.rfind(" ", 0, max_chars)
                cut = cut if cut > 0 else max_chars
                pieces.append(sentence[:cut])
                sentence = sentence[cut:].strip()
            if sentence:
                pieces.append(sentence)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + 1 + len(piece) > max_chars:
            chunks.append(current)
            tail = current[-overlap_chars:]
            tail = tail[tail.find(" ") + 1:] if " " in tail else tail
            current = f"{tail} {piece}" if len(tail) + 1 + len(piece) <= max_chars else piece
        else:
            current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks
