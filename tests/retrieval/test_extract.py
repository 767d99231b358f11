"""xtalk.retrieval.extract: the text of .txt / .md / .pdf files, and clear refusals."""

from __future__ import annotations

import importlib.util

import pytest

from xtalk.retrieval import extract
from xtalk.retrieval.extract import DocumentError, document_text, media_type

HAS_PYPDF = importlib.util.find_spec("pypdf") is not None


def tiny_pdf(*lines: str) -> bytes:
    """A one-page PDF that shows ``lines`` in Helvetica (a real text layer)."""
    text_ops = " ".join(f"({line}) Tj 0 -20 Td" for line in lines)
    content = f"BT /F1 14 Tf 72 720 Td {text_ops} ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def refusal(data: bytes, name: str, content_type: str | None = None) -> DocumentError:
    with pytest.raises(DocumentError) as caught:
        document_text(data, name, content_type)
    assert isinstance(caught.value, ValueError)
    return caught.value


def test_text_and_markdown_by_suffix_or_declared_type() -> None:
    assert document_text("Café at nine.\n".encode(), "notes.txt") == (
        "Café at nine.\n", "text/plain")
    assert document_text(b"# Plan\n\n- milk", "Plan.MD") == ("# Plan\n\n- milk",
                                                              "text/markdown")
    # a byte order mark is not part of the text
    assert document_text(b"\xef\xbb\xbfhello", "bom.txt")[0] == "hello"
    # a declared type wins over the name; a vague one leaves it to the name
    assert document_text(b"hello", "document", "text/plain; charset=utf-8")[1] == "text/plain"
    assert document_text(b"hello", "a.md", "application/octet-stream")[1] == "text/markdown"
    assert media_type("x.markdown") == "text/markdown"
    assert media_type("upload", "text/x-markdown") == "text/x-markdown"


@pytest.mark.parametrize(("data", "name", "reason", "words"), [
    (b"MZ\x90\x00\x03\x00\x00\x00", "setup.exe", "type", ".txt, .md and .pdf"),
    (b"hello", "archive", "type", ".txt, .md and .pdf"),
    (b"caf\xe9 \xff\xfe", "latin1.txt", "encoding", "UTF-8"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff", "picture.txt", "binary", "binary"),
    (b"abc\x00def", "nul.md", "binary", "binary"),
    (b"  \n\t\n", "empty.txt", "empty", "no text"),
    (b"", "nothing.md", "empty", "no text"),
])
def test_refusals_say_why(data: bytes, name: str, reason: str, words: str) -> None:
    error = refusal(data, name)
    assert error.reason == reason
    assert words in str(error)


def test_a_declared_type_that_is_no_document_is_refused() -> None:
    error = refusal(b"{}", "data.txt", "application/json")
    assert error.reason == "type" and "application/json" in str(error)


def test_a_pdf_without_pypdf_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extract, "pdf_supported", lambda: False)
    error = refusal(tiny_pdf("Hello"), "notes.pdf")
    assert error.reason == "pypdf"
    assert str(error) == "PDF support needs the pypdf package (pip install pypdf)"


@pytest.mark.skipif(not HAS_PYPDF, reason="needs the optional pypdf package")
def test_the_text_of_a_pdf() -> None:
    text, media = document_text(tiny_pdf("The warranty lasts 24 months.", "Keep the receipt."),
                                "warranty.pdf")
    assert media == "application/pdf"
    assert "warranty lasts 24 months" in text and "Keep the receipt" in text


@pytest.mark.skipif(not HAS_PYPDF, reason="needs the optional pypdf package")
def test_broken_and_textless_pdfs_are_refused() -> None:
    assert refusal(b"%PDF-1.4\nnot really", "broken.pdf").reason == "pdf"
    assert refusal(b"plain words", "fake.pdf").reason == "pdf"
    empty = refusal(tiny_pdf(), "scan.pdf")
    assert empty.reason == "empty" and "scanned" in str(empty)
