"""Renderings for people and machines: reject reports (text, JSON, CSV, HTML), the guide."""

__all__: list[str] = []
