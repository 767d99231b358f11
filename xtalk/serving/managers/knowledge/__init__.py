"""Knowledge kept in the store for each user: remembered facts and the document library
(present when the engine has a store: ``Xtalk.attach_store`` / ``mount_routes``)."""

from xtalk.serving.managers.knowledge.library import LibraryManager
from xtalk.serving.managers.knowledge.memory import MemoryManager
from xtalk.serving.managers.knowledge.store_bound import StoreBoundManager, store_owner

__all__ = ["LibraryManager", "MemoryManager", "StoreBoundManager", "store_owner"]
