// Every character an address may carry before the @ (RFC 5322 atext), and any host after it.
const EMAIL = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*/g;
// GraphQL echoes a whole rejected variable value ("got invalid value { email: ... }"); drop the value.
const ECHOED_VALUE = /got invalid value .*?(?=; | at "|$)/g;
// "A valid bearer token is required" names no credential, so it is left as it is.
const BEARER = /\b(Bearer|Basic)\s+(?!token(?:\s|$))[A-Za-z0-9._~+/=-]+/gi;
const SECRET_LIKE = /\b(whsec_|ao-v1-)[A-Za-z0-9_+/=-]+/g;

/**
 * Removes personal data and credentials from text that came from elsewhere (a provider's error
 * message, an exception) before it reaches a client or a log line.
 */
export function redact(text: string): string {
  return text.replace(ECHOED_VALUE, 'got an invalid value').replace(EMAIL, '[email]').replace(BEARER, '$1 [redacted]').replace(SECRET_LIKE, '$1[redacted]');
}

/** pino paths whose values never reach a log. */
export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  '*.authorization',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.secret',
  '*.clientSecret',
  '*.email',
  '*.updatedEmail',
  '*.recipientEmail',
  // The same keys on the log line itself: `*.` matches one level down only.
  'token',
  'secret',
  'email',
  'updatedEmail',
  'recipientEmail',
  'connectionParams',
];
