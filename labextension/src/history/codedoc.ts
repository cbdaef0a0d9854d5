/**
 * What the version tab shows as code, as plain data (unit tested): diffs cut
 * into hunk documents with their line kinds and numbers, and the languages
 * of notebook cells as JupyterLab picks them.
 */
import { IDiffLine } from './diffmodel';

/** A piece of a unified diff as one read-only document. */
export interface IDiffDocument {
  /** The lines' text, joined with newlines. */
  text: string;
  /** Per line of `text`: added, removed or unchanged. */
  kinds: Array<'add' | 'del' | 'context'>;
  /** Per line: its number before and after (null where it does not exist). */
  oldNumbers: Array<number | null>;
  newNumbers: Array<number | null>;
}

/** One hunk of a diff: where it is, and its lines as a document. */
export interface IDiffHunk {
  /** First line of the hunk before and after (1-based). */
  oldStart: number;
  newStart: number;
  doc: IDiffDocument;
}

/** The hunks of a parsed unified diff, each a document of its own. */
export function diffHunks(lines: readonly IDiffLine[]): IDiffHunk[] {
  const hunks: IDiffHunk[] = [];
  let current: { oldStart: number; newStart: number; lines: IDiffLine[] } | null = null;
  const flush = () => {
    if (current && current.lines.length) {
      hunks.push({
        oldStart: current.oldStart,
        newStart: current.newStart,
        doc: diffDocument(current.lines)
      });
    }
  };
  for (const line of lines) {
    if (line.kind === 'hunk') {
      flush();
      current = { oldStart: 0, newStart: 0, lines: [] };
      continue;
    }
    if (line.kind === 'note') {
      continue; // "\ No newline at end of file"
    }
    if (!current) {
      current = { oldStart: 0, newStart: 0, lines: [] };
    }
    if (!current.lines.length) {
      current.oldStart = line.oldLine ?? 0;
      current.newStart = line.newLine ?? 0;
    }
    current.lines.push(line);
  }
  flush();
  return hunks;
}

/** Diff lines (no hunk headers) as one document. */
export function diffDocument(lines: readonly IDiffLine[]): IDiffDocument {
  const kept = lines.filter(
    l => l.kind === 'add' || l.kind === 'del' || l.kind === 'context'
  );
  return {
    text: kept.map(l => l.text).join('\n'),
    kinds: kept.map(l => l.kind as 'add' | 'del' | 'context'),
    oldNumbers: kept.map(l => l.oldLine),
    newNumbers: kept.map(l => l.newLine)
  };
}

/**
 * The language of a notebook, as JupyterLab's notebook picks it: its
 * `language_info`, else its kernel's language; null when it has neither.
 */
export function notebookLanguage(
  metadata: any
): { name: string; [key: string]: any } | null {
  const info = metadata?.language_info;
  if (info && typeof info === 'object' && typeof info.name === 'string' && info.name) {
    return info;
  }
  const language = metadata?.kernelspec?.language;
  if (typeof language === 'string' && language) {
    return { name: language };
  }
  return null;
}

/** The MIME type of text without a language (JupyterLab's default). */
export const PLAIN_MIME = 'text/plain';

/** The MIME type JupyterLab edits markdown cells with. */
export const MARKDOWN_MIME = 'text/x-ipythongfm';

/** The MIME type of a notebook cell: code in the notebook's language. */
export function cellMimeType(cellType: string, codeMime: string): string {
  switch (cellType) {
    case 'code':
      return codeMime;
    case 'markdown':
      return MARKDOWN_MIME;
    default:
      return PLAIN_MIME;
  }
}
