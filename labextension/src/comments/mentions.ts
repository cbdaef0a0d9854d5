/**
 * `@username` mentions in a comment box: the word being typed after an `@`
 * (to complete it from the user directory), inserting the chosen person,
 * and the mentions of a body (to highlight them). No DOM.
 */

/** Characters of a username in a mention (as the server reads them). */
const NAME = /[A-Za-z0-9_.+\-]/;
const MENTION = /(^|[^A-Za-z0-9])@([A-Za-z0-9_](?:[A-Za-z0-9_.+\-]*[A-Za-z0-9_+\-])?)/g;

/** The mention being typed at the caret: where its `@` is and what follows it. */
export interface IMentionQuery {
  /** Offset of the `@`. */
  start: number;
  /** What is typed after it, up to the caret. */
  query: string;
}

/**
 * The mention the caret is in (an `@` at the start or after a space or
 * punctuation, then name characters up to the caret), or null.
 */
export function mentionAt(text: string, caret: number): IMentionQuery | null {
  let i = Math.min(caret, text.length) - 1;
  while (i >= 0 && NAME.test(text[i])) {
    i--;
  }
  if (i < 0 || text[i] !== '@') {
    return null;
  }
  const before = i > 0 ? text[i - 1] : '';
  if (before && (/[A-Za-z0-9]/.test(before) || before === '@')) {
    return null; // an e-mail address, or "@@"
  }
  const query = text.slice(i + 1, caret);
  if (query.length > 64) {
    return null;
  }
  return { start: i, query };
}

/**
 * The text with the mention at the caret replaced by `@username ` and the
 * caret after it.
 */
export function insertMention(
  text: string,
  caret: number,
  mention: IMentionQuery,
  username: string
): { text: string; caret: number } {
  let end = caret;
  while (end < text.length && NAME.test(text[end])) {
    end++; // the rest of a word the caret was inside
  }
  const insert = `@${username}` + (text[end] === ' ' ? '' : ' ');
  const next = text.slice(0, mention.start) + insert + text.slice(end);
  const at = mention.start + insert.length + (text[end] === ' ' ? 1 : 0);
  return { text: next, caret: at };
}

/** The usernames mentioned in a body, each once, in order. */
export function mentionsIn(body: string): string[] {
  const seen = new Set<string>();
  for (const match of body.matchAll(MENTION)) {
    seen.add(match[2]);
  }
  return [...seen];
}

/** A body cut into plain text and mentions (to show mentions highlighted). */
export function splitMentions(
  body: string
): { text: string; mention: string | null }[] {
  const parts: { text: string; mention: string | null }[] = [];
  let last = 0;
  for (const match of body.matchAll(MENTION)) {
    const at = match.index! + match[1].length;
    if (at > last) {
      parts.push({ text: body.slice(last, at), mention: null });
    }
    parts.push({ text: `@${match[2]}`, mention: match[2] });
    last = at + 1 + match[2].length;
  }
  if (last < body.length) {
    parts.push({ text: body.slice(last), mention: null });
  }
  return parts;
}
