"""What an upload-only account may never do, answered the same way every time.

Every hook a client can reach that is not about uploading is overridden here,
so nothing falls through to asyncssh's default of "do it on the local
filesystem".
"""

from __future__ import annotations

import asyncssh
from asyncssh import SFTPAttrs

DENIED_READ = "this account can only upload: reading files is not allowed"
DENIED_CHANGE = "files cannot be changed once uploaded"
DENIED_TREE = "this account can only upload files: folders and links are not allowed"


class UploadOnly(asyncssh.SFTPServer):
    """The refusals; :class:`sftp.DistrictSFTPServer` adds what is allowed."""

    def open56(self, path: bytes, desired_access: int, flags: int, attrs: SFTPAttrs) -> object:
        """We speak SFTP v3 only; this is never reached, and refuses if it were."""
        raise asyncssh.SFTPOpUnsupported("SFTP version 3 only")

    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        """Never: this account only uploads."""
        raise asyncssh.SFTPPermissionDenied(DENIED_READ)

    def remove(self, path: bytes) -> None:
        """Never: files belong to the pipeline once published."""
        raise asyncssh.SFTPPermissionDenied(DENIED_CHANGE)

    def mkdir(self, path: bytes, attrs: SFTPAttrs) -> None:
        """Never."""
        raise asyncssh.SFTPPermissionDenied(DENIED_TREE)

    def rmdir(self, path: bytes) -> None:
        """Never."""
        raise asyncssh.SFTPPermissionDenied(DENIED_TREE)

    def readlink(self, path: bytes) -> bytes:
        """Never."""
        raise asyncssh.SFTPPermissionDenied(DENIED_TREE)

    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        """Never."""
        raise asyncssh.SFTPPermissionDenied(DENIED_TREE)

    def link(self, oldpath: bytes, newpath: bytes) -> None:
        """Never (also ``hardlink@openssh.com``)."""
        raise asyncssh.SFTPPermissionDenied(DENIED_TREE)
