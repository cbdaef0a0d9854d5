/**
 * Identities as they reach the page: the `user` the server stamps into
 * awareness states, the user directory and the session reply.
 *
 * Every field ends up in the DOM, and the colour in `style` strings
 * (cursors, avatars, cell markers), so nothing from an identity is used
 * before it went through here: a colour is plain colour syntax or nothing
 * (no `;`, `url(`, quotes or backslashes can end a declaration or load
 * anything), an avatar is an http(s) or server-relative URL without
 * characters that could leave an attribute or a CSS `url()`, and texts are
 * bounded, without control characters. The server validates too
 * (`gateway/identity.py`); this holds against any server or peer.
 *
 * No JupyterLab dependency: unit tested.
 */

/** The `user` field of an awareness state (set by the server). */
export interface IAwarenessUser {
  username?: string;
  name?: string;
  display_name?: string;
  initials?: string;
  color?: string | null;
  avatar_url?: string | null;
}

const HEX = /^#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/;
const FUNCTIONAL =
  /^(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\((?:[0-9.%\s,/+-]|deg|grad|rad|turn|none){1,80}\)$/i;
const NAMED = /^[a-zA-Z]{3,24}$/;
const VARIABLE = /^var\(--[a-zA-Z0-9_-]{1,64}\)$/;
/** Words that parse as colours in CSS but mean "take it from elsewhere". */
const NOT_A_COLOUR = new Set(['inherit', 'initial', 'unset', 'revert', 'currentcolor']);

/**
 * `value` if it is a plain CSS colour (`#rgb[a]`, `#rrggbb[aa]`, `rgb()`,
 * `hsl()` and friends with numbers only, a colour name, or a theme variable
 * such as JupyterLab's `var(--jp-collaborator-color1)`), else null.
 */
export function safeColor(value: unknown): string | null {
  if (typeof value !== 'string') {
    return null;
  }
  const color = value.trim();
  if (color.length === 0 || color.length > 100) {
    return null;
  }
  if (HEX.test(color) || FUNCTIONAL.test(color) || VARIABLE.test(color)) {
    return color;
  }
  if (NAMED.test(color) && !NOT_A_COLOUR.has(color.toLowerCase())) {
    // A word the browser does not know as a colour is dropped too.
    if (typeof CSS !== 'undefined' && typeof CSS.supports === 'function') {
      return CSS.supports('color', color) ? color : null;
    }
    return color;
  }
  return null;
}

const URL_UNSAFE = /[\s"'()<>\\`]/;

/**
 * `value` if it is an http(s) URL or a path on this server with nothing that
 * could leave an attribute or a CSS `url()`, else null (no `javascript:`,
 * `data:`, protocol-relative `//host` URLs, quotes or spaces).
 */
export function safeAvatarUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > 2048 || URL_UNSAFE.test(value)) {
    return null;
  }
  if (/^https?:\/\//i.test(value) || (value.startsWith('/') && !value.startsWith('//'))) {
    return value;
  }
  return null;
}

/** A text field: a string without control characters, at most `max` characters. */
export function safeText(value: unknown, max = 200): string | undefined {
  if (typeof value !== 'string') {
    return undefined;
  }
  // Control characters, line separators and bidirectional overrides (which
  // could make a name read as something else) become spaces.
  const text = value
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/g, ' ')
    .replace(/\s{2,}/g, ' ')
    .trim();
  if (!text) {
    return undefined;
  }
  return Array.from(text).slice(0, max).join('');
}

/** Initials: at most two letters (three for scripts that need it would not fit the avatar). */
export function safeInitials(value: unknown): string | undefined {
  const text = safeText(value, 8)?.replace(/\s+/g, '');
  if (!text) {
    return undefined;
  }
  return Array.from(text).slice(0, 2).join('');
}

/**
 * An identity with every field checked; null when it names nobody (no
 * username and no name).
 */
export function sanitizeUser(user: unknown): IAwarenessUser | null {
  if (!user || typeof user !== 'object') {
    return null;
  }
  const u = user as Record<string, unknown>;
  const username = safeText(u.username, 200);
  const name = safeText(u.name, 200);
  if (!username && !name) {
    return null;
  }
  const clean: IAwarenessUser = {};
  if (username) {
    clean.username = username;
  }
  if (name) {
    clean.name = name;
  }
  const displayName = safeText(u.display_name, 200);
  if (displayName) {
    clean.display_name = displayName;
  }
  const initials = safeInitials(u.initials);
  if (initials) {
    clean.initials = initials;
  }
  clean.color = safeColor(u.color);
  clean.avatar_url = safeAvatarUrl(u.avatar_url);
  return clean;
}

/** Whether two identities show the same (the fields the UI uses). */
export function sameUser(a: IAwarenessUser | null, b: IAwarenessUser | null): boolean {
  if (!a || !b) {
    return a === b;
  }
  return (
    a.username === b.username &&
    a.name === b.name &&
    a.display_name === b.display_name &&
    a.initials === b.initials &&
    (a.color ?? null) === (b.color ?? null) &&
    (a.avatar_url ?? null) === (b.avatar_url ?? null)
  );
}
