"""The HTTP/WebSocket serving layer mounted by ``Xtalk.mount_routes``: login and tokens
(:mod:`.auth`), per-user stored sessions and uploads (:mod:`.routes`), and the manager
that writes live sessions to the store (:mod:`.persistence`)."""

from xtalk.serving.http.auth import AuthSettings
from xtalk.serving.http.persistence import PersistenceManager

__all__ = ["AuthSettings", "PersistenceManager"]
