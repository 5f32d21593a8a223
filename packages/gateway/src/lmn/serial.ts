import { SerialPort } from 'serialport'
import { GatewayError } from '../errors.js'

/** Opens a serial port (serialport 13, 8N1) and feeds its bytes to `onData`; returns its close function. */
export async function openSerial(path: string, baudRate: number, onData: (chunk: Uint8Array) => void, onClose: (err?: Error) => void): Promise<() => Promise<void>> {
  const port = new SerialPort({ path, baudRate, autoOpen: false })
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (err) reject(new GatewayError('LMN_OPEN_FAILED', `cannot open serial port ${path}: ${err.message}`, { cause: err }))
      else resolve()
    })
  })
  let closing = false
  port.on('data', (chunk: Buffer) => { onData(new Uint8Array(chunk)) })
  port.on('error', (err) => { if (!closing) onClose(err) })
  port.on('close', (err?: Error | null) => { if (!closing) onClose(err ?? undefined) })
  return () => new Promise<void>((resolve) => {
    closing = true
    if (!port.isOpen) {
      resolve()
      return
    }
    port.close(() => { resolve() })
  })
}
