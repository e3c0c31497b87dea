"""The running service: SFTP receiver wiring, inbox watcher, batch lifecycle, workers."""
