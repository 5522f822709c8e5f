/**
 * The one error type of the package: a SPEC sub-status code, the HTTP status
 * the REST API answers with it, and a fixed message that never carries a
 * value, a password, a key or a UST.
 */
export class SessattrError extends Error {
  /**
   * @param {string} code SPEC 2.5 sub-status, e.g. `E009001`.
   * @param {number} httpStatus HTTP status of the REST answer.
   * @param {string} message Fixed text.
   * @param {number} [item] Index of the failing item of a many-form call.
   * @param {{cause?: unknown}} [options] `cause`: the underlying failure
   *   (a store's own error), for logs of the caller's choosing.
   */
  constructor(code, httpStatus, message, item, options) {
    super(`${code}: ${message}`, options);
    this.name = 'SessattrError';
    this.code = code;
    this.httpStatus = httpStatus;
    /** The fixed text without the code, as the REST answer's `message`. */
    this.text = message;
    if (item !== undefined) this.item = item;
  }
}
