/**
 * Arrow, Home and End keys in a list of buttons (the history panel's versions, the comments
 * panel's threads): the index of the button to focus next, or null when the key is not one
 * of these (the caller lets it through).
 */
export function nextInList(key: string, index: number, count: number): number | null {
  switch (key) {
    case 'ArrowDown':
      return Math.min(count - 1, index + 1);
    case 'ArrowUp':
      return Math.max(0, index - 1);
    case 'Home':
      return 0;
    case 'End':
      return count - 1;
    default:
      return null;
  }
}
