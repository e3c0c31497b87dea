"""An upload-only, per-account chrooted SFTP receiver on asyncssh. Knows nothing of CSV."""

from __future__ import annotations
