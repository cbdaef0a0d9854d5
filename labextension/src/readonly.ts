/**
 * Read-only mode for viewers: editors become read-only and a banner says so.
 */
import { IDocumentWidget } from '@jupyterlab/docregistry';
import { FileEditor } from '@jupyterlab/fileeditor';
import { Notebook, NotebookPanel } from '@jupyterlab/notebook';
import { TranslationBundle } from '@jupyterlab/translation';
import { lockIcon } from '@jupyterlab/ui-components';
import { BoxPanel, Widget } from '@lumino/widgets';

const BANNER_CLASS = 'jp-collab-ReadOnlyBanner';

/** The banner shown above a document the user may only view. */
export class ReadOnlyBanner extends Widget {
  constructor(trans: TranslationBundle, isNotebook = false, canComment = false) {
    super();
    this.addClass(BANNER_CLASS);
    this.node.setAttribute('role', 'status');
    const icon = lockIcon.element({
      tag: 'span',
      className: 'jp-collab-ReadOnlyBanner-icon',
      elementSize: 'normal'
    } as any);
    icon.setAttribute('aria-hidden', 'true');
    this.canComment = canComment;
    const text = document.createElement('span');
    text.textContent = canComment
      ? isNotebook
        ? trans.__(
            'Read-only: you can view this notebook and comment on it, but not edit it or run its code.'
          )
        : trans.__('Read-only: you can view this document and comment on it, but not edit it.')
      : isNotebook
      ? trans.__(
          'Read-only: you can view this notebook and see the others’ changes, but not edit it or run its code.'
        )
      : trans.__(
          'Read-only: you can view this document and see the others’ changes, but not edit it.'
        );
    this.node.appendChild(icon);
    this.node.appendChild(text);
  }

  /** Whether the banner says the user may comment (a commenter). */
  readonly canComment: boolean;
}

function setNotebookReadOnly(notebook: Notebook, readOnly: boolean): void {
  for (const cell of notebook.widgets) {
    cell.readOnly = readOnly;
  }
}

/**
 * Make a document widget (notebook or file editor) read-only or not.
 *
 * Returns a function that undoes the listeners installed.
 */
export function applyReadOnly(
  widget: IDocumentWidget,
  readOnly: boolean,
  trans: TranslationBundle,
  canComment = false
): void {
  const state = Private.state(widget);
  if (state.readOnly === readOnly) {
    if (readOnly && state.banner && state.banner.canComment !== canComment) {
      // viewer <-> commenter: the banner says what they may do now
      state.banner.dispose();
      state.banner = null;
      addBanner(widget, state, trans, canComment);
    }
    return;
  }
  state.readOnly = readOnly;
  const model = widget.context.model;
  model.readOnly = readOnly;
  if (readOnly) {
    // A viewer has nothing to save: changes that slip in locally (kernel
    // metadata, for example) are never sent, so the document stays clean
    // and closing it does not ask to save.
    model.dirty = false;
    if (!state.dirtyListener) {
      state.dirtyListener = (_: unknown, change: { name: string; newValue: any }) => {
        if (change.name === 'dirty' && change.newValue === true && state.readOnly) {
          queueMicrotask(() => {
            if (state.readOnly && !model.isDisposed) {
              model.dirty = false;
            }
          });
        }
      };
      model.stateChanged.connect(state.dirtyListener);
    }
  }
  if (widget instanceof NotebookPanel) {
    const notebook = widget.content;
    setNotebookReadOnly(notebook, readOnly);
    if (readOnly && !state.cellsListener) {
      state.cellsListener = () => {
        // New cell widgets are created on the same signal; apply after.
        requestAnimationFrame(() => {
          if (state.readOnly && !notebook.isDisposed) {
            setNotebookReadOnly(notebook, true);
          }
        });
      };
      notebook.model?.cells.changed.connect(state.cellsListener);
    }
  } else if (widget.content instanceof FileEditor) {
    widget.content.editor.setOption('readOnly', readOnly);
  }
  if (readOnly) {
    if (!state.banner) {
      addBanner(widget, state, trans, canComment);
    }
    widget.addClass('jp-collab-mod-readOnly');
  } else {
    state.banner?.dispose();
    state.banner = null;
    widget.removeClass('jp-collab-mod-readOnly');
  }
}

function addBanner(
  widget: IDocumentWidget,
  state: Private.IState,
  trans: TranslationBundle,
  canComment: boolean
): void {
  state.banner = new ReadOnlyBanner(trans, widget instanceof NotebookPanel, canComment);
  const header = (widget as unknown as { contentHeader?: BoxPanel }).contentHeader;
  if (header) {
    header.addWidget(state.banner);
  } else {
    widget.toolbar.addItem('jupyter-collab-readonly', state.banner);
  }
}

namespace Private {
  export interface IState {
    readOnly: boolean;
    banner: ReadOnlyBanner | null;
    cellsListener: (() => void) | null;
    dirtyListener: ((sender: unknown, change: { name: string; newValue: any }) => void) | null;
  }
  const states = new WeakMap<Widget, IState>();
  export function state(widget: Widget): IState {
    let s = states.get(widget);
    if (!s) {
      s = { readOnly: false, banner: null, cellsListener: null, dirtyListener: null };
      states.set(widget, s);
    }
    return s;
  }
}
