"""Contracts: what districts send, declared as data (specs/*.yaml), compiled to rules."""

__all__: list[str] = []
