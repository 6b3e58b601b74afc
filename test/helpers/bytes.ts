import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'

export const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex')

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export const randomData = (size: number): Buffer => randomBytes(size)

export const readBytes = (path: string): Promise<Buffer> => readFile(path)
