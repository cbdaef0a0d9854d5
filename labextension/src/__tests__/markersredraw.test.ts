import { Signal } from '@lumino/signaling';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';

import { IMarkedRange, IMarkerSource, mayRedraw } from '../comments/markers';

/**
 * A marker source over real Yjs texts: the ranges of each text are set by
 * the test (the comments plugin's source resolves threads' anchors instead).
 */
class RangesByText implements Pick<IMarkerSource, 'rangesOf'> {
  readonly changed = new Signal<this, void>(this);
  readonly ranges = new Map<Y.Text, IMarkedRange[]>();
  calls = 0;
  rangesOf(ytext: Y.Text): IMarkedRange[] {
    this.calls++;
    return this.ranges.get(ytext) ?? [];
  }
}

describe('when comment markers redraw an editor (issue 8: time to editable)', () => {
  const doc = new Y.Doc();
  const text = doc.getText('source');
  const other = doc.getText('other');
  text.insert(0, 'x = 1\n'.repeat(1000));
  other.insert(0, 'y = 2\n');

  it('does not redraw an editor that shows no thread and has none to show', () => {
    // a 4 MiB file's first sync, threads loading, a thread in another document
    const source = new RangesByText();
    source.ranges.set(other, [{ from: 0, to: 3, threads: ['t1'] }]);
    expect(mayRedraw([], source, text)).toBe(false);
    expect(source.calls).toBe(1);
  });

  it('redraws when a thread is anchored in its text, or one it shows is gone', () => {
    const source = new RangesByText();
    source.ranges.set(text, [{ from: 2, to: 5, threads: ['t1'] }]);
    expect(mayRedraw([], source, text)).toBe(true);
    // the thread was deleted or resolved: what shows must go
    const shown = [{ from: 2, to: 5, threads: ['t1'] }];
    expect(mayRedraw(shown, new RangesByText(), text)).toBe(true);
  });
});
