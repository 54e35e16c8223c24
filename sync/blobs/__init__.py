"""Blob storage: image bytes in an S3-compatible bucket or under the local data folder."""

from __future__ import annotations

from ..settings import Settings
from .base import BlobInfo, BlobStore, UploadTarget, check_key
from .disk import DiskBlobStore, UploadGrant, load_or_create_secret
from .errors import (
    BlobError,
    BlobErrorKind,
    ForeignImageError,
    UploadRefusal,
    UploadRefusedError,
)
from .layout import (
    ImageKey,
    Scope,
    key_belongs_to,
    key_belongs_to_post,
    owned_image,
    parse_image_key,
    post_image_key,
    room_image_key,
    upload_key,
    upload_of,
)
from .s3 import S3BlobStore


def open_blob_store(settings: Settings) -> BlobStore:
    """S3 when ``ARBOR_S3_BUCKET`` is set, else files under ``ARBOR_DATA_DIR/blobs``."""
    if settings.s3_bucket:
        return S3BlobStore.from_settings(settings)
    root = settings.data_dir / "blobs"
    secret = settings.blob_secret.reveal().encode() or load_or_create_secret(root / ".secret")
    return DiskBlobStore(root, secret, settings.public_url)


__all__ = [
    "BlobError",
    "BlobErrorKind",
    "BlobInfo",
    "BlobStore",
    "DiskBlobStore",
    "ForeignImageError",
    "ImageKey",
    "S3BlobStore",
    "Scope",
    "UploadGrant",
    "UploadRefusal",
    "UploadRefusedError",
    "UploadTarget",
    "check_key",
    "key_belongs_to",
    "key_belongs_to_post",
    "load_or_create_secret",
    "open_blob_store",
    "owned_image",
    "parse_image_key",
    "post_image_key",
    "room_image_key",
    "upload_key",
    "upload_of",
]
