// Writes `name.br` and `name.gz` beside each script, style sheet and SVG of the build, so
// `arbor serve` (server/assets.py) can send the smaller file to a browser that takes it
// without compressing on every request. Node's zlib has both; no dependency.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { brotliCompress, constants, gzip } from 'node:zlib'
import { promisify } from 'node:util'

const brotli = promisify(brotliCompress)
const gz = promisify(gzip)
const COMPRESSIBLE = /\.(js|css|svg|json|html|txt|map)$/
const SMALLEST = 1024 // below this, headers cost more than compression saves

/** The Vite plugin: runs after the bundle is written, for every `vite build`. */
export function precompress() {
  return {
    name: 'arbor-precompress',
    apply: 'build',
    async writeBundle(options, bundle) {
      const dir = options.dir ?? 'dist'
      const names = Object.keys(bundle).filter(name => COMPRESSIBLE.test(name))
      await Promise.all(names.map(async name => {
        const path = join(dir, name)
        const plain = await readFile(path)
        if (plain.length < SMALLEST) return
        const [br, gzipped] = await Promise.all([
          brotli(plain, { params: {
            [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
            [constants.BROTLI_PARAM_SIZE_HINT]: plain.length,
          } }),
          gz(plain, { level: 9 }),
        ])
        // Only when smaller: the server sends whichever file exists, so a twin that grew
        // would make the page slower for nothing.
        if (br.length < plain.length) await writeFile(`${path}.br`, br)
        if (gzipped.length < plain.length) await writeFile(`${path}.gz`, gzipped)
      }))
    },
  }
}
