"""The desktop window (PySide6): :func:`app.ui.main_window.run_gui` starts it.

Import PySide6 before qasync (qasync picks the Qt binding that is already imported)."""
