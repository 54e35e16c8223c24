import { useCallback } from 'react'
import { useArbor } from './useArbor'
import { MAX_UPLOAD_BYTES, uploadImage } from '../api/uploads'
import { ApiError } from '../api/client'
import { setBlockFields } from '../sync/mutations'

/** Uploads an image file into a block; errors become a message (and the block's error). */
export function useImageUpload(): (blockId: string, file: File) => Promise<void> {
  const { conn, room, token, notify } = useArbor()
  return useCallback(async (blockId: string, file: File) => {
    if (!file.type.startsWith('image/')) {
      notify('Only image files can go into an image block.', 'error')
      return
    }
    if (file.size > MAX_UPLOAD_BYTES) {
      notify(`That image is too large (at most ${MAX_UPLOAD_BYTES / 1024 / 1024} MB).`, 'error')
      return
    }
    // One toast for the upload: "Uploading…" until it ends, then what happened.
    const key = `upload:${blockId}`
    notify(`Uploading ${file.name || 'image'}…`, 'info', undefined, { key, pending: true })
    try {
      await uploadImage(room, token, blockId, file)
      notify('Image uploaded.', 'info', undefined, { key })
    } catch (e) {
      const why = e instanceof ApiError
        ? (e.status === 404 || e.status === 405 ? 'this server does not accept uploads yet' : e.friendly)
        : 'unknown error'
      notify(`The image could not be uploaded: ${why}.`, 'error', undefined, { key })
      setBlockFields(conn, blockId, { status: 'error', error: `Upload failed: ${why}` })
    }
  }, [conn, room, token, notify])
}
