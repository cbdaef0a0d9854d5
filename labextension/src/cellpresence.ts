/**
 * Which cell each person is in: coloured initials on the cell (and a bar in
 * their colour on its left), from the awareness of the notebook's room.
 * Also publishes our own active cell (awareness field `cell`).
 */
import { Notebook } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ISignal } from '@lumino/signaling';

import { cellOfPosition } from './cellposition';
import { IRoom } from './contentprovider';
import { ICellMark, applyUserColor, cellMarks } from './presencemodel';

const MARKERS_CLASS = 'jp-collab-CellMarkers';
const CELL_CLASS = 'jp-collab-mod-remoteActive';

type Cell = Notebook['widgets'][number];

export class CellPresence implements IDisposable {
  constructor(options: CellPresence.IOptions) {
    this._notebook = options.notebook;
    this._room = options.room;
    this._trans = options.trans;
    this._onSelect = options.onSelect;
    this._refresh = options.refresh ?? null;
    this._refresh?.connect(this._schedule);
    this._room.sharedModel.awareness.on('change', this._schedule);
    this._notebook.model?.cells.changed.connect(this._schedule);
    this._notebook.activeCellChanged.connect(this._publish);
    this._publish();
    this._schedule();
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._refresh?.disconnect(this._schedule);
    try {
      this._room.sharedModel.awareness.off('change', this._schedule);
    } catch {
      // awareness destroyed with the document
    }
    this._notebook.model?.cells.changed.disconnect(this._schedule);
    this._notebook.activeCellChanged.disconnect(this._publish);
    if (!this._notebook.isDisposed) {
      this._apply(new Map());
    }
  }

  /** Tell the others which cell we are in. */
  private _publish = (): void => {
    const shared = this._room.sharedModel;
    if (this._isDisposed || shared.isDisposed) {
      return;
    }
    const id = this._notebook.activeCell?.model.id ?? null;
    const local = shared.awareness.getLocalState() as any;
    if (local && local.cell !== id) {
      shared.awareness.setLocalStateField('cell', id);
    }
  };

  private _schedule = (): void => {
    if (this._pending || this._isDisposed) {
      return;
    }
    this._pending = true;
    requestAnimationFrame(() => {
      this._pending = false;
      this._render();
    });
  };

  private _render(): void {
    const shared = this._room.sharedModel;
    if (this._isDisposed || shared.isDisposed || this._notebook.isDisposed) {
      return;
    }
    const awareness = shared.awareness;
    const me = awareness.clientID;
    const myName = (awareness.getLocalState() as any)?.user?.username;
    const entries: { clientId: number; state: any }[] = [];
    awareness.getStates().forEach((state: any, clientId: number) => {
      entries.push({ clientId, state });
    });
    const marks = cellMarks(
      entries,
      (id, state) =>
        id === me || (!!myName && state.user?.username === myName),
      position => cellOfPosition(shared.ydoc, position),
      this._trans.__('Anonymous')
    );
    this._apply(marks);
  }

  /**
   * Put the marks on the cells. Only the cells marked before or now are
   * touched: this runs on every awareness change, and a notebook may have
   * thousands of cells, whose DOM is better left alone (a query or a style
   * write per cell, each time, cost layout work while a large notebook
   * opened).
   */
  private _apply(marks: Map<string, ICellMark[]>): void {
    if (marks.size === 0 && this._marked.size === 0) {
      return;
    }
    const marked = new Set<Cell>();
    for (const cell of this._notebook.widgets) {
      const people = marks.get(cell.model.id) ?? [];
      if (people.length === 0 && !this._marked.has(cell)) {
        continue;
      }
      let box = cell.node.querySelector(
        `:scope > .${MARKERS_CLASS}`
      ) as HTMLElement | null;
      if (people.length === 0) {
        box?.remove();
        cell.removeClass(CELL_CLASS);
        cell.node.style.removeProperty('--jp-collab-cell-color');
        continue;
      }
      marked.add(cell);
      const signature = people.map(p => `${p.key}:${p.color}`).join('|');
      if (box && box.dataset.signature === signature) {
        continue;
      }
      if (!box) {
        box = document.createElement('div');
        box.className = MARKERS_CLASS;
        box.setAttribute('role', 'group');
        cell.node.appendChild(box);
      }
      box.dataset.signature = signature;
      const names = people.map(p => p.displayName).join(', ');
      box.setAttribute(
        'aria-label',
        // (%1 is the count, %2 the first argument after it)
        this._trans._n('%2 is in this cell', '%2 are in this cell', people.length, names)
      );
      box.replaceChildren();
      for (const person of people) {
        const item = document.createElement('button');
        item.type = 'button';
        item.className = 'jp-collab-CellMarker';
        applyUserColor(item, person.color);
        item.textContent = person.initials;
        item.title = this._trans.__('%1 is in this cell. Show their cursor.', person.displayName);
        item.setAttribute('aria-label', item.title);
        item.dataset.user = person.key;
        item.addEventListener('click', event => {
          event.stopPropagation();
          this._onSelect?.(person);
        });
        box.appendChild(item);
      }
      cell.addClass(CELL_CLASS);
      cell.node.style.setProperty('--jp-collab-cell-color', people[0].color);
    }
    this._marked = marked;
  }

  private _notebook: Notebook;
  private _room: IRoom;
  private _trans: TranslationBundle;
  private _onSelect?: (person: ICellMark) => void;
  private _refresh: ISignal<any, void> | null;
  private _pending = false;
  private _isDisposed = false;
  /** The cells that carry marks (see _apply). */
  private _marked = new Set<Cell>();
}

export namespace CellPresence {
  export interface IOptions {
    notebook: Notebook;
    room: IRoom;
    trans: TranslationBundle;
    /** A marker was clicked. */
    onSelect?: (person: ICellMark) => void;
    /** Draw again when this fires (new colours, for example). */
    refresh?: ISignal<any, void>;
  }
}
