/**
 * The notebook cell a Yjs relative position points into.
 */
import * as Y from 'yjs';

/**
 * The id of the cell whose source contains `relative` (JSON relative
 * position, as published in the awareness `cursors`), or null.
 */
export function cellOfPosition(doc: Y.Doc, relative: any): string | null {
  if (relative === null || relative === undefined) {
    return null;
  }
  try {
    const rel = Y.createRelativePositionFromJSON(relative);
    const abs = Y.createAbsolutePositionFromRelativePosition(rel, doc);
    const parent = abs?.type?.parent;
    if (parent instanceof Y.Map) {
      const id = parent.get('id');
      return typeof id === 'string' ? id : null;
    }
  } catch {
    // not a position in this document
  }
  return null;
}
