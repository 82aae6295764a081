"""ssh-agent: not built yet (see README)."""

__all__: list[str] = []
