"""HTTP routes for a user's knowledge: remembered facts and the document library.

Mounted by ``Xtalk.mount_routes`` beside the sessions route (``{base}`` is its parent,
``/api`` by default); every route needs the caller's authentication and sees only the
caller's own rows (somebody else's id answers 404).

=======================================  ====================================================
``GET {base}/memory``                    the caller's facts, oldest first
``POST {base}/memory``                   ``{text}`` → the stored fact (201); an existing
                                         fact is returned as it is
``PUT {base}/memory/{id}``               ``{text}`` → the changed fact
``DELETE {base}/memory/{id}``            204
``GET {base}/library``                   the caller's documents (uploaded in any session)
``DELETE {base}/library/{id}``           204; the document is no longer found anywhere
=======================================  ====================================================
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, Field

from xtalk.serving.http.auth import Principal
from xtalk.store import MemoryFullError, Store
from xtalk.store.memories import MAX_FACT_CHARS, MemoryRecord


class MemoryModel(BaseModel):
    id: int
    text: str
    created_at: datetime
    updated_at: datetime


class MemoryRequest(BaseModel):
    text: str = Field(min_length=1, max_length=MAX_FACT_CHARS,
                      description="The fact, in the user's words.")


class LibraryDocumentModel(BaseModel):
    id: int
    session_id: str | None = Field(description="The conversation it was added in, if any.")
    name: str
    content_type: str
    created_at: datetime
    chunk_count: int
    chars: int


def _memory(record: MemoryRecord) -> MemoryModel:
    return MemoryModel(id=record.id, text=record.text, created_at=record.created_at,
                       updated_at=record.updated_at)


def build_knowledge_router(store: Store, caller: Callable[..., Awaitable[Principal]],
                           base: str, errors: Callable[..., dict[int | str, Any]]
                           ) -> APIRouter:
    """The memory and library routes under ``base`` (see the module docstring)."""
    router = APIRouter()
    memories, documents = store.memories, store.documents

    @router.get(f"{base}/memory", response_model=list[MemoryModel], tags=["memory"],
                summary="What the assistant remembers about you", responses=errors(401, 403))
    async def list_memory(principal: Principal = Depends(caller)) -> list[MemoryModel]:
        return [_memory(m) for m in await asyncio.to_thread(memories.list, principal.owner)]

    @router.post(f"{base}/memory", response_model=MemoryModel, status_code=201,
                 tags=["memory"], summary="Remember a fact", responses=errors(400, 401, 403))
    async def add_memory(body: MemoryRequest,
                         principal: Principal = Depends(caller)) -> MemoryModel:
        try:
            record = await asyncio.to_thread(memories.add, principal.owner, body.text)
        except (ValueError, MemoryFullError) as exc:
            raise HTTPException(400, str(exc)) from None
        return _memory(record)

    @router.put(f"{base}/memory/{{memory_id}}", response_model=MemoryModel, tags=["memory"],
                summary="Change a fact", responses=errors(400, 401, 403, 404))
    async def change_memory(memory_id: int, body: MemoryRequest,
                            principal: Principal = Depends(caller)) -> MemoryModel:
        try:
            record = await asyncio.to_thread(memories.update, principal.owner, memory_id,
                                             body.text)
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        if record is None:
            raise HTTPException(404, "Fact not found.")
        return _memory(record)

    @router.delete(f"{base}/memory/{{memory_id}}", status_code=204, tags=["memory"],
                   summary="Forget a fact", responses=errors(401, 403, 404))
    async def delete_memory(memory_id: int,
                            principal: Principal = Depends(caller)) -> Response:
        if not await asyncio.to_thread(memories.delete, principal.owner, memory_id):
            raise HTTPException(404, "Fact not found.")
        return Response(status_code=204)

    @router.get(f"{base}/library", response_model=list[LibraryDocumentModel],
                tags=["documents"], summary="Your documents (from every conversation)",
                responses=errors(401, 403))
    async def list_library(principal: Principal = Depends(caller)
                           ) -> list[LibraryDocumentModel]:
        return [LibraryDocumentModel(**d.to_dict())
                for d in await asyncio.to_thread(documents.list_documents, principal.owner)]

    @router.delete(f"{base}/library/{{document_id}}", status_code=204, tags=["documents"],
                   summary="Delete a document", responses=errors(401, 403, 404))
    async def delete_document(document_id: int,
                              principal: Principal = Depends(caller)) -> Response:
        if not await asyncio.to_thread(documents.delete_document, principal.owner,
                                       document_id):
            raise HTTPException(404, "Document not found.")
        return Response(status_code=204)

    return router


__all__ = ["LibraryDocumentModel", "MemoryModel", "MemoryRequest", "build_knowledge_router"]
