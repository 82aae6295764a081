"""ssh-sftp: not built yet (see README)."""

__all__: list[str] = []
