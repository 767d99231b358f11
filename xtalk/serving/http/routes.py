"""The built-in HTTP and WebSocket routes (``Xtalk.mount_routes``).

=======================================  ====================================================
``POST {login_path}``                    ``{username, password}`` → ``{token, expires_at,
                                         user}``; 401 on wrong credentials (one message for
                                         an unknown user and a wrong password)
``POST {login_path}/pairing``            ``{code}`` (from ``xtalk-server pairing-code``) →
                                         the same token response
``POST {auth base}/logout``              revokes the request's bearer token
``GET {auth base}/status``               ``{sign_in_needed, signed_in}``, always 200
``GET {sessions_path}``                  the caller's sessions
``GET {session_detail_path}``            one of the caller's sessions with its messages; 404
                                         for anybody else's
``POST {upload_path}``                   ``?filename=[&session_id=]``, the body is the
                                         document (``text/plain``, ``text/markdown``;
                                         ``application/pdf`` when ``pypdf`` is installed);
                                         it joins the caller's library
memory and library routes                see :mod:`xtalk.serving.http.knowledge_routes`
``WS {ws_path}``                         a session; ``?session_id=`` attaches to a stored
                                         session, ``?token=`` authenticates browsers
=======================================  ====================================================

Authentication and origin rules are in :mod:`xtalk.serving.http.auth`. WebSocket refusals
accept the connection, send one ``error`` message and close it with a 44xx code, so a
browser can tell why: 4401 not authenticated, 4403 origin/host refused,
4404 unknown session, 4409 session already attached elsewhere, 4430 too many sessions of
this user (``max_sessions_per_user``; :mod:`xtalk.serving.wire.limits`). No session runs
for a refused connection. No CORS headers are ever added.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xtalk.retrieval.chunking import chunk_text
from xtalk.retrieval.extract import (
    PDF_TYPE,
    TEXT_TYPES,
    DocumentError,
    document_text,
    pdf_supported,
)
from xtalk.serving.http.auth import (
    AuthGate,
    AuthRefused,
    AuthSettings,
    Principal,
    bearer_token,
    client_address,
    install_token_redaction,
    origin_allowed,
)
from xtalk.serving.http.knowledge_routes import build_knowledge_router
from xtalk.serving.wire.limits import WS_TOO_MANY_SESSIONS, ConnectionLimits
from xtalk.store import Store, UserInfo

if TYPE_CHECKING:
    from xtalk.api import Xtalk

logger = logging.getLogger(__name__)

SESSION_ID_RE = re.compile(r"[0-9A-Za-z_-]{1,32}")
UTF8_CHARSETS = ("utf-8", "utf8", "us-ascii", "ascii")
#: the upload's 400 answers, by :class:`DocumentError` reason
UNREADABLE = {"pdf": "The PDF could not be read.",
              "encoding": "The document is not valid UTF-8 text.",
              "binary": "The document contains NUL characters (binary data?).",
              "empty": "The document is empty."}
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)

WS_NOT_FOUND = 4404
WS_CONFLICT = 4409


# --------------------------------------------------------------------------- schemas
class UserModel(BaseModel):
    id: int
    username: str
    is_admin: bool
    created_at: datetime


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=256)
    password: str = Field(min_length=1, max_length=4096)


class PairingRequest(BaseModel):
    code: str = Field(min_length=1, max_length=32, description="The pairing code shown by "
                      "`xtalk-server pairing-code NAME`.")


class TokenResponse(BaseModel):
    token: str = Field(description="Bearer token: `Authorization: Bearer <token>`, or "
                       "`?token=` on the WebSocket.")
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    user: UserModel


class AuthStatus(BaseModel):
    sign_in_needed: bool = Field(description="No valid token, and this server needs one.")
    signed_in: bool = Field(False, description="The request's token names a user.")


class LogoutResponse(BaseModel):
    revoked: bool


class SessionSummary(BaseModel):
    id: str
    title: str | None
    created_at: datetime
    updated_at: datetime
    message_count: int


class MessageModel(BaseModel):
    id: int
    turn_id: int
    role: Literal["system", "user", "assistant"]
    content: str
    interrupted: bool
    created_at: datetime


class SessionDetailModel(SessionSummary):
    messages: list[MessageModel]


class DocumentModel(BaseModel):
    id: int
    session_id: str | None
    name: str
    content_type: str
    created_at: datetime
    chunk_count: int
    chars: int


class UploadResponse(BaseModel):
    document: DocumentModel
    indexed_live: bool = Field(description="Every conversation of the caller can answer "
                               "from the document now (always true: the library is searched "
                               "for every turn).")


class ErrorResponse(BaseModel):
    detail: str


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "Bad request", 401: "Not authenticated", 403: "Origin or host refused",
            404: "Not found", 413: "Document too large", 415: "Unsupported content type",
            429: "Too many failed attempts"}
    return {code: {"model": ErrorResponse, "description": text[code]} for code in codes}


def _user_model(user: UserInfo) -> UserModel:
    return UserModel(id=user.id, username=user.username, is_admin=user.is_admin,
                     created_at=user.created_at)


# --------------------------------------------------------------------------- middleware
class SecurityHeadersMiddleware:
    """Adds ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: no-referrer`` and
    ``X-Frame-Options: DENY`` to every HTTP response (pure ASGI: request bodies keep
    streaming)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in SECURITY_HEADERS if k not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --------------------------------------------------------------------------- context
@dataclass
class ServingContext:
    xtalk: Xtalk
    store: Store
    settings: AuthSettings
    gate: AuthGate = field(init=False)
    claimed: set[str] = field(default_factory=set)  # session ids being attached / live
    limits: ConnectionLimits = field(default_factory=ConnectionLimits)
    connections: dict[int | None, int] = field(default_factory=dict)  # per user (or None)

    def __post_init__(self) -> None:
        self.gate = AuthGate(self.store, self.settings)

    @property
    def pdf_supported(self) -> bool:
        return pdf_supported()


def _http_error(exc: AuthRefused) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return HTTPException(exc.status, exc.message, headers=headers)


# --------------------------------------------------------------------------- routes
def _auth_base(login_path: str) -> str:
    if login_path.endswith("/login"):
        return login_path[: -len("/login")]
    return login_path.rstrip("/")


def _check_session_id(session_id: str) -> None:
    if not SESSION_ID_RE.fullmatch(session_id):
        raise HTTPException(404, "Session not found.")


def _content_type(header: str | None) -> tuple[str, dict[str, str]]:
    if not header:
        return "", {}
    media, *params = header.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        key, _, value = param.partition("=")
        parsed[key.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), parsed


async def _embed(ctx: ServingContext, chunks: list[str]) -> list[list[float]] | None:
    """The chunks' vectors from the engine's embeddings model (None without one, or when
    it fails: the sessions embed them later)."""
    model = ctx.xtalk.service_prototype.pipeline.get_embeddings_model()
    if model is None or not chunks:
        return None
    try:
        return await asyncio.to_thread(model.embed_documents, chunks)
    except Exception:
        logger.warning("could not embed an uploaded document; it is searched by its words "
                       "until a session embeds it", exc_info=True)
        return None


def build_router(ctx: ServingContext, *, login_path: str, sessions_path: str,
                 session_detail_path: str, upload_path: str, ws_path: str) -> APIRouter:
    """The routes of one ``mount_routes`` call."""
    if "{session_id}" not in session_detail_path:
        raise ValueError("session_detail_path must contain '{session_id}'")
    def no_store(response: Response) -> None:
        response.headers["Cache-Control"] = "no-store"  # tokens, conversations

    router = APIRouter(dependencies=[Depends(no_store)])
    bearer = HTTPBearer(auto_error=False, description="Token from the login route.")
    store = ctx.store
    settings = ctx.settings

    async def caller(request: Request,
                     _credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
                     ) -> Principal:
        try:
            return await ctx.gate.principal(request.scope)
        except AuthRefused as exc:
            raise _http_error(exc) from None

    async def origin_only(request: Request) -> None:
        if not origin_allowed(request.scope, settings.allowed_origins):
            raise HTTPException(403, "Cross-origin requests are not allowed.")

    def throttled(request: Request) -> str:
        key = client_address(request.scope)
        wait = ctx.gate.throttle.blocked_for(key)
        if wait > 0:
            raise HTTPException(429, "Too many failed attempts; try again later.",
                                headers={"Retry-After": str(int(wait) + 1)})
        return key

    def token_response(token: str, user: UserInfo) -> TokenResponse:
        return TokenResponse(token=token, expires_at=datetime.now(UTC) + settings.token_ttl,
                             user=_user_model(user))

    # ---------------------------------------------------------------- auth
    @router.post(login_path, response_model=TokenResponse, tags=["auth"],
                 summary="Log in with a username and password",
                 responses=_errors(401, 403, 429), dependencies=[Depends(origin_only)])
    async def login(body: LoginRequest, request: Request) -> TokenResponse:
        key = throttled(request)
        user = await asyncio.to_thread(store.users.authenticate, body.username, body.password)
        if user is None:
            ctx.gate.throttle.failed(key)
            raise HTTPException(401, "Invalid username or password.",
                                headers={"WWW-Authenticate": "Bearer"})
        ctx.gate.throttle.succeeded(key)
        token = await asyncio.to_thread(store.users.issue_token, user, settings.token_ttl,
                                        label="login")
        return token_response(token, user)

    @router.post(f"{login_path.rstrip('/')}/pairing", response_model=TokenResponse,
                 tags=["auth"], summary="Pair a device with a one-time code",
                 responses=_errors(401, 403, 429), dependencies=[Depends(origin_only)])
    async def pair(body: PairingRequest, request: Request) -> TokenResponse:
        key = throttled(request)
        token = await asyncio.to_thread(store.users.redeem_pairing_code, body.code,
                                        ttl=settings.token_ttl)
        user = await ctx.gate.user_for(token) if token else None
        if token is None or user is None:
            ctx.gate.throttle.failed(key)
            raise HTTPException(401, "Invalid or expired pairing code.")
        return token_response(token, user)

    @router.post(f"{_auth_base(login_path)}/logout", response_model=LogoutResponse,
                 tags=["auth"], summary="Revoke the bearer token of this request",
                 responses=_errors(401, 403), dependencies=[Depends(origin_only)])
    async def logout(request: Request,
                     _credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
                     ) -> LogoutResponse:
        token = bearer_token(request.scope)
        if token is None or await ctx.gate.user_for(token) is None:
            raise HTTPException(401, "Invalid or expired token.",
                                headers={"WWW-Authenticate": "Bearer"})
        revoked = await asyncio.to_thread(store.users.revoke_token, token)
        return LogoutResponse(revoked=revoked)

    @router.get(f"{_auth_base(login_path)}/status", response_model=AuthStatus, tags=["auth"],
                summary="Whether this request's caller must sign in first",
                responses=_errors(403))
    async def auth_status(request: Request,
                          _credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
                          ) -> AuthStatus:
        """Always 200 (a page asks before it knows: no refused request to log)."""
        try:
            principal = await ctx.gate.principal(request.scope)
        except AuthRefused as exc:
            if exc.status != 401:
                raise _http_error(exc) from None
            return AuthStatus(sign_in_needed=True)
        return AuthStatus(sign_in_needed=False, signed_in=principal.user is not None)

    # ---------------------------------------------------------------- sessions
    @router.get(sessions_path, response_model=list[SessionSummary], tags=["sessions"],
                summary="The caller's sessions, most recently updated first",
                responses=_errors(401, 403))
    async def list_sessions(principal: Principal = Depends(caller),
                            limit: int = Query(100, ge=1, le=1000),
                            offset: int = Query(0, ge=0)) -> list[SessionSummary]:
        rows = await asyncio.to_thread(store.conversations.list_sessions, principal.owner,
                                       limit=limit, offset=offset)
        return [SessionSummary(id=r.id, title=r.title, created_at=r.created_at,
                               updated_at=r.updated_at, message_count=r.message_count)
                for r in rows]

    @router.get(session_detail_path, response_model=SessionDetailModel, tags=["sessions"],
                summary="One of the caller's sessions with its messages",
                responses=_errors(401, 403, 404))
    async def session_detail(session_id: str,
                             principal: Principal = Depends(caller)) -> SessionDetailModel:
        _check_session_id(session_id)
        detail = await asyncio.to_thread(store.conversations.get_session, principal.owner,
                                         session_id)
        if detail is None:
            raise HTTPException(404, "Session not found.")
        return SessionDetailModel(
            id=detail.id, title=detail.title, created_at=detail.created_at,
            updated_at=detail.updated_at, message_count=detail.message_count,
            messages=[MessageModel(id=m.id, turn_id=m.turn_id, role=m.role,
                                   content=m.content, interrupted=m.interrupted,
                                   created_at=m.created_at) for m in detail.messages])

    # ---------------------------------------------------------------- upload
    upload_types: dict[str, Any] = {t: {"schema": {"type": "string"}} for t in TEXT_TYPES[:2]}
    if ctx.pdf_supported:
        upload_types[PDF_TYPE] = {"schema": {"type": "string", "format": "binary"}}

    @router.post(upload_path, response_model=UploadResponse, status_code=201,
                 tags=["documents"], summary="Add a document to a session",
                 description=(
                     "The request body is the document itself (UTF-8 `text/plain` or "
                     "`text/markdown`; `application/pdf` only when the server has "
                     f"`pypdf`). At most `max_upload_bytes` "
                     f"({settings.max_upload_bytes} bytes on this server), enforced "
                     "while the body streams in. The document joins the caller's library "
                     "and is searched in all their conversations at once."),
                 responses=_errors(400, 401, 403, 404, 413, 415),
                 openapi_extra={"requestBody": {"required": True, "content": upload_types}})
    async def upload(request: Request,
                     session_id: str | None = Query(
                         None, description="The conversation it is added in (optional)."),
                     filename: str = Query("document", max_length=255,
                                           description="Name shown for the document."),
                     principal: Principal = Depends(caller)) -> UploadResponse:
        if session_id is not None:
            _check_session_id(session_id)
            owned = await asyncio.to_thread(store.conversations.owns_session,
                                            principal.owner, session_id)
            if not owned:
                raise HTTPException(404, "Session not found.")
        media, params = _content_type(request.headers.get("content-type"))
        if media == PDF_TYPE:
            if not ctx.pdf_supported:
                raise HTTPException(415, "PDF documents are not supported by this server "
                                    "(the optional 'pypdf' package is not installed); "
                                    "upload the text as text/plain or text/markdown.")
        elif media not in TEXT_TYPES:
            raise HTTPException(415, "Unsupported content type "
                                f"{media or '(none)'!r}; send the document as the request "
                                "body with Content-Type text/plain or text/markdown"
                                f"{' or application/pdf' if ctx.pdf_supported else ''}.")
        elif params.get("charset", "utf-8") not in UTF8_CHARSETS:
            raise HTTPException(415, "Only UTF-8 text documents are accepted.")
        limit = settings.max_upload_bytes
        too_large = HTTPException(413, f"The document is larger than {limit} bytes.")
        declared = request.headers.get("content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise HTTPException(400, "Invalid Content-Length.")
            if int(declared) > limit:
                logger.warning("upload to session %s refused: %s bytes declared, limit %d",
                               session_id, declared.strip(), limit)
                raise too_large
        body = bytearray()
        try:
            async for chunk in request.stream():
                body += chunk
                if len(body) > limit:  # stop reading: the rest is never buffered
                    logger.warning("upload to session %s refused: over the limit of %d "
                                   "bytes", session_id, limit)
                    raise too_large
        except ClientDisconnect:
            raise HTTPException(400, "The upload was interrupted.") from None
        name = filename.strip() or "document"
        try:
            text, _ = await asyncio.to_thread(document_text, bytes(body), name, media)
        except DocumentError as exc:
            if exc.reason == "pdf":
                logger.info("unreadable PDF upload for session %s", session_id, exc_info=True)
            raise HTTPException(400 if exc.reason in UNREADABLE else 415,
                                UNREADABLE.get(exc.reason, str(exc))) from None
        chunks = chunk_text(text)
        vectors = await _embed(ctx, chunks)
        info = await asyncio.to_thread(store.documents.add_document, principal.owner, name,
                                       media, text, vectors, chunks=chunks,
                                       session_id=session_id)
        logger.info("document %r (%d chars) added to the library of user %s", name,
                    len(text), principal.owner if principal.owner is not None else "(local)")
        document = DocumentModel(id=info.id, session_id=info.session_id, name=info.name,
                                 content_type=info.content_type, created_at=info.created_at,
                                 chunk_count=info.chunk_count, chars=info.chars)
        return UploadResponse(document=document, indexed_live=True)

    router.include_router(build_knowledge_router(
        store, caller, sessions_path.rstrip("/").rsplit("/", 1)[0], _errors))

    # ---------------------------------------------------------------- websocket
    async def refuse(websocket: WebSocket, ws_code: int, code: str, message: str) -> None:
        logger.info("websocket from %s refused: %s", client_address(websocket.scope), code)
        with contextlib.suppress(Exception):
            await websocket.accept()
            await websocket.send_json({"action": "error",
                                       "data": {"code": code, "message": message}})
            await websocket.close(code=ws_code, reason=message[:120])

    async def session_socket(websocket: WebSocket) -> None:
        try:
            principal = await ctx.gate.principal(websocket.scope, websocket=True)
        except AuthRefused as exc:
            await refuse(websocket, exc.ws_code, exc.code, exc.message)
            return
        owner = principal.owner
        open_now = ctx.connections.get(owner, 0)
        if open_now >= ctx.limits.max_sessions_per_user:
            logger.warning("websocket of user %s refused: %d sessions open (limit %d)",
                           owner if owner is not None else "(local)", open_now,
                           ctx.limits.max_sessions_per_user)
            await refuse(websocket, WS_TOO_MANY_SESSIONS, "too_many_sessions",
                         f"You already have {open_now} sessions open (the limit is "
                         f"{ctx.limits.max_sessions_per_user}); close one and try again.")
            return
        ctx.connections[owner] = open_now + 1
        try:
            await run_session(websocket, principal)
        finally:
            left = ctx.connections.get(owner, 1) - 1
            if left > 0:
                ctx.connections[owner] = left
            else:
                ctx.connections.pop(owner, None)

    async def run_session(websocket: WebSocket, principal: Principal) -> None:
        requested = websocket.query_params.get("session_id")
        owner = principal.owner
        messages: list[dict[str, str]] | None = None
        if requested is not None:
            if not SESSION_ID_RE.fullmatch(requested):
                await refuse(websocket, WS_NOT_FOUND, "session_not_found", "Session not found.")
                return
            owned = await asyncio.to_thread(store.conversations.owns_session, owner,
                                            requested)
            if not owned:
                await refuse(websocket, WS_NOT_FOUND, "session_not_found", "Session not found.")
                return
            if requested in ctx.claimed or requested in ctx.xtalk.sessions:
                await refuse(websocket, WS_CONFLICT, "session_in_use",
                             "This session is open on another connection.")
                return
            session_id, new = requested, False
            ctx.claimed.add(session_id)
            try:
                messages = await asyncio.to_thread(store.conversations.messages, session_id)
            except Exception:
                ctx.claimed.discard(session_id)
                raise
        else:
            session_id, new = uuid.uuid4().hex, True
            ctx.claimed.add(session_id)
            try:
                await asyncio.to_thread(store.conversations.create_session, owner,
                                        session_id=session_id)
            except Exception:
                ctx.claimed.discard(session_id)
                raise
        try:
            await ctx.xtalk.connect(websocket, principal.user_id, session_id=session_id,
                                    messages=messages, attached=not new)
        finally:
            ctx.claimed.discard(session_id)
            if new:
                await _drop_if_empty(store, owner, session_id)

    router.add_api_websocket_route(ws_path, session_socket, name="xtalk_session")
    return router


async def _drop_if_empty(store: Store, owner: int | None, session_id: str) -> None:
    try:
        await asyncio.shield(asyncio.to_thread(store.delete_if_empty, owner, session_id))
    except Exception:
        logger.warning("could not clean up empty session %s", session_id, exc_info=True)


def mount(xtalk: Xtalk, app: Any, *, store: Store, settings: AuthSettings, login_path: str,
          sessions_path: str, session_detail_path: str, upload_path: str,
          ws_path: str) -> ServingContext:
    """Mount the routes on ``app`` (a FastAPI app or router)."""
    if not hasattr(app, "include_router"):
        raise TypeError("mount_routes needs a FastAPI application (or APIRouter)")
    ctx = ServingContext(xtalk, store, settings,
                         limits=xtalk.service_prototype.connection_limits)
    router = build_router(ctx, login_path=login_path, sessions_path=sessions_path,
                          session_detail_path=session_detail_path, upload_path=upload_path,
                          ws_path=ws_path)
    app.include_router(router)
    if hasattr(app, "add_middleware"):
        app.add_middleware(SecurityHeadersMiddleware)
    install_token_redaction()
    return ctx


__all__ = [
    "DocumentModel", "LoginRequest", "LogoutResponse", "MessageModel", "PairingRequest",
    "Principal", "SecurityHeadersMiddleware", "ServingContext", "SessionDetailModel",
    "SessionSummary", "TokenResponse", "UploadResponse", "UserModel", "build_router", "mount",
]
