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
   */
  constructor(code, httpStatus, message, item) {
    super(`${code}: ${message}`);
    this.name = 'SessattrError';
    this.code = code;
    this.httpStatus = httpStatus;
    if (item !== undefined) this.item = item;
  }
}
