/**
 * What jsdom (the DOM of the `// @vitest-environment jsdom` tests) lacks and
 * Lumino and JupyterLab use at import or while drawing; a browser has all of
 * them. JupyterLab's own test setup (@jupyterlab/testing) adds the same.
 * Nothing is done in the node environment.
 */
const g = globalThis as any;
if (typeof g.window !== 'undefined') {
  if (!g.DragEvent) {
    // @lumino/dragdrop subclasses it when it is imported
    g.DragEvent = class DragEvent extends g.MouseEvent {
      constructor(type: string, init: any = {}) {
        super(type, init);
        this.dataTransfer = init.dataTransfer ?? null;
      }
      dataTransfer: any;
    };
  }
  for (const name of ['ResizeObserver', 'IntersectionObserver']) {
    if (!g[name]) {
      g[name] = class {
        observe(): void {}
        unobserve(): void {}
        disconnect(): void {}
        takeRecords(): any[] {
          return [];
        }
      };
    }
  }
  if (!g.Range.prototype.getClientRects) {
    // CodeMirror measures text with ranges
    g.Range.prototype.getClientRects = () => ({ length: 0, item: () => null, [Symbol.iterator]: [][Symbol.iterator] });
    g.Range.prototype.getBoundingClientRect = () => new g.DOMRect();
  }
  if (!g.window.matchMedia) {
    // (the JupyterLab web components ask for forced colours at import)
    g.window.matchMedia = (query: string) => ({
      matches: false,
      media: query,
      onchange: null,
      addListener: () => undefined,
      removeListener: () => undefined,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
      dispatchEvent: () => false
    });
  }
  if (!g.CSS?.escape) {
    // CSS.escape as the CSSOM spec has it (selectors of ids from the server)
    g.CSS = {
      ...(g.CSS ?? {}),
      escape: (value: string) =>
        String(value).replace(/[\0-\x1f\x7f]|^-?\d|^-$|[^\w\u0080-\uffff-]/g, (ch: string, offset: number) => {
          if (ch === '\0') {
            return '\ufffd';
          }
          if (/[\x01-\x1f\x7f]/.test(ch) || (/^-?\d/.test(ch) && offset === 0)) {
            const last = ch[ch.length - 1];
            return ch.slice(0, -1) + `\\${last.charCodeAt(0).toString(16)} `;
          }
          return `\\${ch}`;
        })
    };
  }
  if (!g.Element.prototype.scrollIntoView) {
    g.Element.prototype.scrollIntoView = () => undefined;
  }
  if (!g.document.elementFromPoint) {
    g.document.elementFromPoint = () => null;
  }
}
