"""Contracts: what districts send, declared as data (specs/*.yaml), compiled to rules."""
