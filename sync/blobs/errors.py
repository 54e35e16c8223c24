"""Errors of the blob stores.

    ArborError
    ├── BlobError              a blob store could not do what was asked (``kind`` says why)
    │   └── UploadRefusedError an upload to a signed URL was refused (``reason`` says why)
    └── ForeignImageError      a key a document names is not this canvas's (or post's) own
                               image, or names nothing: the two are told apart to nobody

The kinds follow y-sweet's store errors: the bucket is missing, the object is missing,
the store refused our credentials, the store could not be reached; plus an invalid key,
which is always a bug or a hostile request, never a storage problem.
"""

from __future__ import annotations

from enum import StrEnum

from ..errors import ArborError


class BlobErrorKind(StrEnum):
    BUCKET_MISSING = "bucket_missing"
    OBJECT_MISSING = "object_missing"
    NOT_AUTHORIZED = "not_authorized"
    CONNECTION = "connection"
    INVALID_KEY = "invalid_key"


class BlobError(ArborError):
    def __init__(self, kind: BlobErrorKind, detail: str, *, key: str | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.key = key

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.kind.value}, {self.detail!r}, key={self.key!r})"


class UploadRefusal(StrEnum):
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    WRONG_TYPE = "wrong_content_type"
    WRONG_SIZE = "wrong_size"
    SPENT = "upload_url_spent"


class UploadRefusedError(BlobError):
    """A PUT to a signed upload URL that does not match what was signed."""

    def __init__(self, reason: UploadRefusal, detail: str, *, key: str | None = None) -> None:
        super().__init__(BlobErrorKind.NOT_AUTHORIZED, detail, key=key)
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason.value}, {self.detail!r}, key={self.key!r})"


FOREIGN_IMAGE_DETAIL = ("This image belongs to another canvas (or no longer exists), so it "
                        "cannot be used here.")


class ForeignImageError(ArborError):
    """A block (or a post's lineage) names an image key that is not one of its own canvas's
    (or post's) renditions. Raised before the store is asked, and also for one of its own
    keys that is missing, with one message for every case, so a peer that writes keys into
    a document learns nothing about which exist. ``key`` is for logs, never for people."""

    def __init__(self, key: str) -> None:
        super().__init__(FOREIGN_IMAGE_DETAIL)
        self.key = key

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key={self.key[:80]!r})"
