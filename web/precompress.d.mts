import type { Plugin } from 'vite'

/** Writes `.br` and `.gz` twins of the build's compressible files: precompress.mjs. */
export function precompress(): Plugin
