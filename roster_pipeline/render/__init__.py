"""Renderings for people and machines: reject reports (text, JSON, CSV, HTML), the guide."""
