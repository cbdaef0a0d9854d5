/**
 * The token the core plugin provides (in its own module so that plugins in
 * other files can require it without an import cycle).
 */
import { Token } from '@lumino/coreutils';
import { Widget } from '@lumino/widgets';

import { CollabContentProvider, IRoom } from './contentprovider';
import { PresenceTracker } from './presencetracker';
import { CollabSettings } from './settings';

/** The translation domain of this extension. */
export const DOMAIN = 'jupyter_collab';

/** What the core plugin provides to the others. */
export interface ICollab {
  readonly provider: CollabContentProvider;
  readonly presence: PresenceTracker;
  /** The settings (schema/rooms.json), applied live. */
  readonly settings: CollabSettings;
  /** The room of a document widget, if it is collaborative. */
  roomForWidget(widget: Widget | null): IRoom | null;
}

export const ICollab = new Token<ICollab>(
  'jupyter-collab:ICollab',
  'The jupyter-collab rooms of the open documents.'
);
