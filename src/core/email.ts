// The WHATWG form of an address (what a browser's <input type="email"> accepts), with one more
// rule: the domain has a dot. A dotless host (`ada@localhost`) reaches no provider's mail system.
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** RFC 5321: the longest address a mail path can carry. */
export const MAX_EMAIL_LENGTH = 254;

/** An email address giftgraph can send to: the shape above, at most 254 characters. */
export const isEmailAddress = (value: string): boolean => value.length <= MAX_EMAIL_LENGTH && EMAIL.test(value);

/**
 * The one spelling of an address that identifies a person: trimmed and lower-cased, the local
 * part included. RFC 5321 lets a mail host treat the local part as case-sensitive, but the mail
 * systems gifts are delivered to do not, and giftgraph already treats the whole address
 * case-insensitively wherever it matches one (a repeated recipient, a resend, the `recipientEmail`
 * filter, the ledger's lookup of a person's gifts). Keeping the local part's case in the key would
 * make `Ada@example.com` and `ada@example.com` two people holding the very same gifts.
 */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();
