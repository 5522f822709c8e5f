// The sub-status codes of SPEC 2.5, with what each means to the person at
// the console, and how an API answer becomes one readable message.

/** Code → [meaning (SPEC 2.5), what usually causes it]. */
export const CODES = {
  E004001: ['unknown application', 'current_app is not in the server\'s list of applications (names are case-sensitive).'],
  E005001: ['not allowed', 'wrong credentials, a locked user, or a session that is not a super-user\'s.'],
  E007001: ['no such session', 'the UST is missing, malformed, forged or expired.'],
  E008001: ['invalid operation', 'unknown path or method.'],
  E008002: ['invalid input', 'a field of the wrong type, a value over a limit, or JSON that does not parse.'],
  E008003: ['missing input', 'a required field is missing (current_app, name or data, value).'],
  E008004: ['internal error', 'the store is unavailable, or a value could not be sealed or opened.'],
  E009001: ['attribute already exists', 'create of a name that has a live attribute; use set or update.'],
  E009002: ['no such attribute', 'update of a name without a live attribute; use create or set.'],
};

/** The meaning of `code` ("unknown code" for one this console does not know). */
export function meaning(code) {
  return CODES[code]?.[0] ?? 'unknown code';
}

/**
 * One line for an error answer: `HTTP 403 · E009001 attribute already exists
 * (item 2) — create of a name that …`. `body` is the parsed answer (or null).
 */
export function describeError(status, body) {
  const code = body?.sub_status?.[0];
  if (!code) return `HTTP ${status}: the server answered without a sub-status.`;
  const item = Number.isInteger(body.item) ? ` (item ${body.item})` : '';
  const hint = CODES[code]?.[1] ?? '';
  return `HTTP ${status} · ${code} ${meaning(code)}${item}${hint ? ` — ${hint}` : ''}`;
}
