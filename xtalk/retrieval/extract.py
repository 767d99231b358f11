"""The text of a document file: UTF-8 text (``.txt``, ``.md``) and PDF (with ``pypdf``).

::

    text, media = document_text(data, "notes.md")               # by the name's suffix
    text, media = document_text(body, "notes", "text/plain")     # by a declared type

Blocking (a PDF can take seconds): call it from a worker thread in async or GUI code.
Every refusal is a :class:`DocumentError` (a ``ValueError``) whose message is meant for
the user and reads well after the file's name ("notes.pdf: PDF support needs the pypdf
package (pip install pypdf)"); its ``reason`` tells the kinds apart for callers with
their own wording (the HTTP upload route).
"""

from __future__ import annotations

import importlib.util
import io
from pathlib import PurePath
from typing import Literal

TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown")
PDF_TYPE = "application/pdf"
#: the file name suffixes :func:`document_text` reads, and the media type of each
SUFFIX_TYPES = {".txt": "text/plain", ".text": "text/plain", ".md": "text/markdown",
                ".markdown": "text/markdown", ".pdf": PDF_TYPE}
#: declared types that say nothing: the name's suffix decides
_UNSPECIFIC_TYPES = ("", "application/octet-stream", "binary/octet-stream")

Reason = Literal["type", "pypdf", "encoding", "binary", "empty", "pdf"]


class DocumentError(ValueError):
    """A file that cannot become a library document.

    ``reason``: ``"type"`` (not a supported type), ``"pypdf"`` (a PDF, and ``pypdf`` is
    not installed), ``"encoding"`` (not UTF-8), ``"binary"`` (NUL bytes), ``"empty"``
    (no text), ``"pdf"`` (a PDF that cannot be read).
    """

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason


def pdf_supported() -> bool:
    """Whether PDF documents can be read here (the optional ``pypdf`` is installed)."""
    return importlib.util.find_spec("pypdf") is not None


def media_type(filename: str, content_type: str | None = None) -> str:
    """The media type ``filename`` is read as: ``content_type`` when it names a supported
    type (parameters such as ``charset`` are ignored), else the name's suffix.

    Raises:
        DocumentError: ``reason == "type"``: neither names a supported type.
    """
    declared = (content_type or "").split(";", 1)[0].strip().lower()
    if declared in TEXT_TYPES or declared == PDF_TYPE:
        return declared
    suffix = PurePath(filename or "").suffix.lower()
    if declared in _UNSPECIFIC_TYPES:
        if suffix in SUFFIX_TYPES:
            return SUFFIX_TYPES[suffix]
        raise DocumentError("type", "only .txt, .md and .pdf files can be added")
    raise DocumentError("type", f"{declared} is not a document type that can be added "
                        "(text/plain, text/markdown or application/pdf)")


def _pdf_text(data: bytes) -> str:
    if not pdf_supported():
        raise DocumentError("pypdf", "PDF support needs the pypdf package "
                            "(pip install pypdf)")
    import pypdf

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentError("pdf", "the PDF is protected by a password")
        text = "\n\n".join((page.extract_text() or "") for page in reader.pages)
    except DocumentError:
        raise
    except Exception as exc:  # pypdf raises many kinds on a damaged file
        raise DocumentError("pdf", "the PDF could not be read") from exc
    return text.replace("\x00", "")  # extraction artefacts, not binary content


def _utf8_text(data: bytes) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        if b"\x00" in data:
            raise DocumentError("binary", "it is not a text file (binary data)") from None
        raise DocumentError("encoding", "the text is not UTF-8 (save it as UTF-8 and "
                            "add it again)") from None
    if "\x00" in text:
        raise DocumentError("binary", "it is not a text file (binary data)")
    return text


def document_text(data: bytes, filename: str,
                  content_type: str | None = None) -> tuple[str, str]:
    """The text of the document ``data`` and the media type it was read as.

    Args:
        data: The file's bytes.
        filename: Its name; the suffix decides the type unless ``content_type`` does.
        content_type: A declared media type (``text/plain``, ``text/markdown``,
            ``application/pdf``); None, empty or ``application/octet-stream``: by name.

    Raises:
        DocumentError: An unsupported type, a PDF without ``pypdf``, text that is not
            UTF-8 or contains NUL bytes, an unreadable PDF, or no text at all.
    """
    media = media_type(filename, content_type)
    text = _pdf_text(bytes(data)) if media == PDF_TYPE else _utf8_text(bytes(data))
    if not text.strip():
        raise DocumentError("empty", "it contains no text" + (
            " (a scanned PDF holds only pictures of pages)" if media == PDF_TYPE else ""))
    return text, media


__all__ = ["PDF_TYPE", "SUFFIX_TYPES", "TEXT_TYPES", "DocumentError", "document_text",
           "media_type", "pdf_supported"]
