"""The running service: SFTP receiver wiring, inbox watcher, batch lifecycle, workers."""

__all__: list[str] = []
