"""roster-pipeline: receive school roster exports over SFTP, validate, load as snapshots."""

from __future__ import annotations

__version__ = "0.1.0"
