"""The SFTP side of one session: a district's folder as ``/``, upload-only.

Every hook the client can reach is overridden here, so nothing falls through to
asyncssh's default of "do it on the local filesystem". Paths are resolved
virtually (no symlink is ever followed) to a plain name directly in the root.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import posixpath
import shutil
import stat
import sys
from collections.abc import AsyncIterator, Awaitable
from typing import NoReturn

import asyncssh
from asyncssh import SFTPAttrs, SFTPName, SFTPVFSAttrs

from sftp_server.accounts import UploadRecord
from sftp_server.inbox import MAX_NAME_BYTES, is_temp_name, valid_name
from sftp_server.ledger import QuotaExceeded
from sftp_server.refusals import DENIED_CHANGE, DENIED_READ, UploadOnly
from sftp_server.session import Channels, Session
from sftp_server.upload import Upload

#: The asyncssh function that answers SSH_FXP_CLOSE. Only a close hook called
#: from it publishes; if asyncssh renamed it, every upload would be discarded
#: as a partial (never a partial published) and the upload tests would fail.
_CLOSE_REQUEST_HANDLER = "_process_close"


def _too_large(limit: int) -> str:
    return f"file larger than the limit of {limit} bytes"


def _explicit_close() -> bool:
    """True when our close hook runs for a client's SSH_FXP_CLOSE request."""
    frame = sys._getframe(2)  # our close hook's caller
    return frame.f_code.co_name == _CLOSE_REQUEST_HANDLER


_TOO_MANY_CHANNELS = "too many SFTP sessions on one connection"


class DistrictSFTPServer(UploadOnly):
    """Receives uploads into a staging area and publishes them on explicit close."""

    def __init__(
        self, chan: asyncssh.SSHServerChannel[bytes], session: Session, channels: Channels
    ) -> None:
        super().__init__(chan, chroot=os.fsencode(session.inbox.folder))
        self._chan = chan
        self._session = session
        self._channels = channels
        channels.open += 1
        self._over_channels = channels.open > session.limits.max_channels
        if self._over_channels:  # no client needs this many: hang up on it
            session.log("channel_refused", reason=_TOO_MANY_CHANNELS)
            chan.get_connection().disconnect(asyncssh.DISC_BY_APPLICATION, _TOO_MANY_CHANNELS)
        self._open: set[Upload] = set()
        self._pending: dict[str, Upload] = {}  # closed temp-name uploads awaiting rename
        self._published: dict[str, SFTPAttrs] = {}  # original name -> what clients stat

    # ---- paths -------------------------------------------------------------

    def _name(self, path: bytes) -> str:
        """The plain file name ``path`` denotes in the root; anything else is refused."""
        norm = posixpath.normpath(posixpath.join(b"/", path))
        parent, raw = posixpath.split(norm)
        if not raw:
            raise asyncssh.SFTPPermissionDenied("not a file")
        if parent != b"/":
            raise asyncssh.SFTPNoSuchFile("no such folder: this account has only /")
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise asyncssh.SFTPInvalidFilename("file names must be UTF-8") from None
        if not valid_name(name, self._session.limits.temp_names):
            raise asyncssh.SFTPInvalidFilename(f"not an acceptable file name: {name!r}")
        return name

    @staticmethod
    def _is_root(path: bytes) -> bool:
        return posixpath.normpath(posixpath.join(b"/", path)) == b"/"

    def realpath(self, path: bytes) -> bytes:
        """Normalise without touching the filesystem, so no link can lead out."""
        self._session.touch()
        return posixpath.normpath(posixpath.join(b"/", path))

    # ---- reading the folder ------------------------------------------------

    def _attrs(self, path: bytes) -> SFTPAttrs:
        self._session.touch()
        if self._is_root(path):
            return SFTPAttrs.from_local(os.stat(self._session.inbox.folder))
        name = self._name(path)
        staged = self._pending.get(name) or next((u for u in self._open if u.name == name), None)
        if staged is not None:
            return SFTPAttrs(size=staged.size, permissions=0o100640)
        try:
            st = os.lstat(self._session.inbox.folder / name)
        except FileNotFoundError:
            st = None
        if st is not None and stat.S_ISREG(st.st_mode):
            return SFTPAttrs.from_local(st)
        if name in self._published:  # already moved on by the pipeline
            return self._published[name]
        raise asyncssh.SFTPNoSuchFile(f"no such file: {name}")

    def _exists(self, name: str) -> bool:
        try:
            self._attrs(name.encode())
        except asyncssh.SFTPNoSuchFile:
            return False
        return True

    def statvfs(self, path: bytes) -> SFTPVFSAttrs:
        """The district's quota as a filesystem: what it may still upload, not our disk."""
        self._session.touch()
        limits, ledger = self._session.limits, self._session.ledger
        used, files = ledger.waiting()
        block = 4096
        free = max(0, limits.district_quota - used) // block
        spare = max(0, limits.max_files - files)
        return SFTPVFSAttrs(
            bsize=block, frsize=block, blocks=limits.district_quota // block,
            bfree=free, bavail=free, files=limits.max_files, ffree=spare, favail=spare,
            fsid=0, flag=0, namemax=MAX_NAME_BYTES,
        )  # fmt: skip

    def fstatvfs(self, file_obj: object) -> SFTPVFSAttrs:
        """Like :meth:`statvfs`."""
        self._upload(file_obj)
        return self.statvfs(b"/")

    def stat(self, path: bytes) -> SFTPAttrs:
        """Attributes of a file of ours, never following a link."""
        return self._attrs(path)

    def lstat(self, path: bytes) -> SFTPAttrs:
        """Same as :meth:`stat`: links are never followed anyway."""
        return self._attrs(path)

    async def scandir(self, path: bytes) -> AsyncIterator[SFTPName]:
        """The regular files in the root; links and anything else stay hidden."""
        self._session.touch()
        if not self._is_root(path):
            raise asyncssh.SFTPNoSuchFile("no such folder: this account has only /")
        folder = self._session.inbox.folder
        here = SFTPAttrs.from_local(os.stat(folder))
        for dot in (b".", b".."):
            yield SFTPName(dot, attrs=here)
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and not entry.name.startswith("."):
                    st = entry.stat(follow_symlinks=False)
                    yield SFTPName(os.fsencode(entry.name), attrs=SFTPAttrs.from_local(st))

    # ---- writing -----------------------------------------------------------

    async def open(self, path: bytes, pflags: int, attrs: SFTPAttrs) -> Upload:
        """Start an upload into staging; reading and modifying are refused."""
        self._session.touch()
        if pflags & asyncssh.FXF_READ:
            raise asyncssh.SFTPPermissionDenied(DENIED_READ)
        if not pflags & asyncssh.FXF_WRITE or not pflags & asyncssh.FXF_CREAT:
            raise asyncssh.SFTPPermissionDenied(DENIED_CHANGE)
        if pflags & asyncssh.FXF_APPEND:
            raise asyncssh.SFTPPermissionDenied(DENIED_CHANGE)
        name = self._name(path)
        if pflags & asyncssh.FXF_EXCL and self._exists(name):
            raise asyncssh.SFTPFileAlreadyExists(f"{name} exists; files are never replaced")
        self._check_can_open(name)
        ledger = self._session.ledger
        await ledger.refresh()
        try:
            upload = ledger.open_slot(lambda: Upload(name, self._session.inbox.new_staging_path()))
        except QuotaExceeded as exc:
            self._refuse_at_open(name, str(exc))
        except OSError as exc:  # out of descriptors or disk: refuse, log once a while
            self._session.audit.write_limited(
                "upload_refused", "oserror", name=name, reason=f"cannot stage: {exc.strerror}"
            )
            raise asyncssh.SFTPFailure("the server is busy; try again later") from None
        self._open.add(upload)
        self._session.opened(+1)
        return upload

    def _check_can_open(self, name: str) -> None:
        limits = self._session.limits
        if self._over_channels:
            raise asyncssh.SFTPFailure(_TOO_MANY_CHANNELS)
        if self._session.open_files.of(self._session.account.username) >= limits.max_open_handles:
            self._refuse_at_open(name, f"too many open files (at most {limits.max_open_handles})")
        if self._session.descriptors.short():  # every client at once: one line a while
            self._session.audit.write_limited(
                "upload_refused", "descriptors", name=name, reason="too few file descriptors free"
            )
            raise asyncssh.SFTPFailure("the server is busy; try again later")
        if self._free_disk() < limits.min_free_disk:
            self._refuse_at_open(name, "the server is short of disk space; try again later")

    def _refuse_at_open(self, name: str, reason: str) -> NoReturn:
        self._session.log("upload_refused", name=name, reason=reason)
        raise asyncssh.SFTPFailure(reason)

    def _free_disk(self) -> int:
        return shutil.disk_usage(self._session.inbox.staging).free

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        """Store a chunk, unless it breaks a limit: then the upload is dropped."""
        upload = self._upload(file_obj)
        self._session.touch()
        if upload.refused:
            raise asyncssh.SFTPFailure(upload.refused)
        limits = self._session.limits
        end = offset + len(data)
        if end > limits.max_file_size:
            self._refuse(upload, _too_large(limits.max_file_size))
        if end > upload.reserved:  # once per chunk: take more of the quota first
            self._reserve(upload, end, len(data))
        upload.write(offset, data)
        return len(data)

    def _reserve(self, upload: Upload, end: int, size: int) -> None:
        if self._free_disk() - size < self._session.limits.min_free_disk:
            self._refuse(upload, "the server is short of disk space; try again later")
        try:
            upload.reserved = self._session.ledger.reserve(upload.fd, upload.reserved, end)
        except QuotaExceeded as exc:
            self._refuse(upload, str(exc))

    def _refuse(self, upload: Upload, reason: str) -> NoReturn:
        upload.refused = reason
        upload.discard()  # free the disk now, not at close
        self._session.log("upload_refused", name=upload.name, reason=reason, bytes=upload.size)
        raise asyncssh.SFTPFailure(reason)

    @staticmethod
    def _upload(file_obj: object) -> Upload:
        if not isinstance(file_obj, Upload):  # only open() makes handles
            raise asyncssh.SFTPFailure("invalid handle")
        return file_obj

    def fstat(self, file_obj: object) -> SFTPAttrs:
        """What we have of the upload so far."""
        upload = self._upload(file_obj)
        return SFTPAttrs(size=upload.size, permissions=0o100640)

    def fsync(self, file_obj: object) -> None:
        """Accepted; publishing makes the file durable enough for the pipeline."""
        self._upload(file_obj)

    # ---- close, the hand-off ---------------------------------------------

    def close(self, file_obj: object) -> Awaitable[None]:
        """Publish on the client's close; asyncssh's cleanup close is a partial.

        asyncssh calls this hook for an explicit SSH_FXP_CLOSE and also, from its
        session cleanup, for every handle still open when the channel goes away.
        The two are told apart by who calls (:func:`_explicit_close`), never by
        the channel's state: a client may send EOF right after its CLOSE, and the
        CLOSE must still publish.
        """
        return self._close(self._upload(file_obj), explicit=_explicit_close())

    async def _close(self, upload: Upload, explicit: bool) -> None:
        if upload not in self._open:
            return
        self._open.discard(upload)
        self._session.opened(-1)
        if not explicit:
            self._discard_partial(upload, "connection closed before the file was closed")
            return
        if upload.refused:
            raise asyncssh.SFTPFailure(upload.refused)
        upload.closed = True
        upload.trim()
        if is_temp_name(upload.name, self._session.limits.temp_names):
            replaced = self._pending.pop(upload.name, None)
            if replaced is not None:
                self._discard_partial(replaced, "replaced by a new upload of the same name")
            self._pending[upload.name] = upload
            return
        await self._publish(upload, upload.name)

    def _discard_partial(self, upload: Upload, reason: str) -> None:
        if upload.refused:
            return  # already discarded and logged
        upload.discard()
        self._session.log("upload_partial", name=upload.name, bytes=upload.size, reason=reason)

    async def _publish(self, upload: Upload, final_name: str) -> None:
        session = self._session
        sha256 = await asyncio.to_thread(upload.finish)
        finished = dt.datetime.now(dt.UTC)
        target = session.inbox.publish(upload.staging_path, final_name, finished)
        session.ledger.published(upload.size)
        self._published[final_name] = SFTPAttrs.from_local(os.lstat(target))
        session.log(
            "upload_published",
            name=final_name,
            published=target.name,
            bytes=upload.size,
            sha256=sha256,
        )
        record = UploadRecord(
            district=session.account.district,
            username=session.account.username,
            original_name=final_name,
            published_path=target,
            size=upload.size,
            sha256=sha256,
            client_address=session.address,
            client_version=session.client_version,
            algorithms=session.algorithms,
            started=upload.started,
            finished=finished,
        )
        try:
            await asyncio.to_thread(session.accounts.on_upload, record)
        except Exception as exc:  # the file is published either way; say so loudly
            session.log("upload_hook_failed", name=final_name, error=repr(exc))

    # ---- rename: only the temp-name hand-off ----------------------------------

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        """Publish a closed temp-name upload (``Limits.temp_names``) under its final name."""
        self._session.touch()
        old, new = self._name(oldpath), self._name(newpath)
        upload = self._pending.get(old)
        if upload is None:
            raise asyncssh.SFTPPermissionDenied(DENIED_CHANGE)
        if os.path.lexists(self._session.inbox.folder / new) or new in self._pending:
            raise asyncssh.SFTPPermissionDenied(f"{new} exists; files are never replaced")
        del self._pending[old]
        if is_temp_name(new, self._session.limits.temp_names):
            upload.name = new
            self._pending[new] = upload
            return
        await self._publish(upload, new)

    async def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        """Like :meth:`rename`: replacing an existing file is refused all the same."""
        await self.rename(oldpath, newpath)

    # ---- attributes: times accepted and ignored, ownership refused --------

    def setstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        """Times are accepted and ignored; a size truncates an open upload; the rest is refused."""
        self._session.touch()
        if attrs.permissions is not None or attrs.uid is not None or attrs.gid is not None:
            raise asyncssh.SFTPPermissionDenied("changing permissions or owner is not allowed")
        if attrs.owner is not None or attrs.group is not None:
            raise asyncssh.SFTPPermissionDenied("changing permissions or owner is not allowed")
        if self._is_root(path):
            return
        name = self._name(path)
        if attrs.size is not None:
            upload = next((u for u in self._open if u.name == name), None)
            if upload is None:
                raise asyncssh.SFTPPermissionDenied(DENIED_CHANGE)
            self._truncate(upload, attrs.size)

    def lsetstat(self, path: bytes, attrs: SFTPAttrs) -> None:
        """Like :meth:`setstat`."""
        self.setstat(path, attrs)

    def fsetstat(self, file_obj: object, attrs: SFTPAttrs) -> None:
        """A size truncates the upload; modes and times are ignored (``put -p``, lftp, rclone)."""
        upload = self._upload(file_obj)
        self._session.touch()
        if attrs.size is not None:
            self._truncate(upload, attrs.size)

    def _truncate(self, upload: Upload, size: int) -> None:
        if upload.refused:
            raise asyncssh.SFTPFailure(upload.refused)
        if size > self._session.limits.max_file_size:
            self._refuse(
                upload, f"file larger than the limit of {self._session.limits.max_file_size} bytes"
            )
        if size > upload.reserved:
            self._reserve(upload, size, size - upload.size)
        upload.truncate(size)

    def exit(self) -> None:
        """Temp-name uploads never renamed are partials."""
        self._channels.open -= 1
        for upload in self._pending.values():
            self._discard_partial(upload, "uploaded under a temporary name and never renamed")
        self._pending.clear()
