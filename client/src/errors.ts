// The control API's errors, as the client sees them: the daemon's stable
// code and message, and the HTTP status they came with.

export class ApiError extends Error {
  readonly code: string
  readonly status: number
  constructor (code: string, message: string, status: number, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ApiError'
    this.code = code
    this.status = status
  }
}
