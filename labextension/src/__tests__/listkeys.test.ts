import { describe, expect, it } from 'vitest';

import { nextInList } from '../listkeys';

describe('nextInList', () => {
  it('moves within the list and stops at its ends', () => {
    expect(nextInList('ArrowDown', 0, 3)).toBe(1);
    expect(nextInList('ArrowDown', 2, 3)).toBe(2);
    expect(nextInList('ArrowUp', 0, 3)).toBe(0);
    expect(nextInList('ArrowUp', 2, 3)).toBe(1);
    expect(nextInList('Home', 2, 3)).toBe(0);
    expect(nextInList('End', 0, 3)).toBe(2);
  });

  it('lets other keys through', () => {
    expect(nextInList('Enter', 1, 3)).toBeNull();
    expect(nextInList('a', 1, 3)).toBeNull();
  });
});
