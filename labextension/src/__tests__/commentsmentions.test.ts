import { describe, expect, it } from 'vitest';

import { insertMention, mentionAt, mentionsIn, splitMentions } from '../comments/mentions';

describe('mentions', () => {
  it('finds the mention being typed at the caret', () => {
    expect(mentionAt('hello @bo', 9)).toEqual({ start: 6, query: 'bo' });
    expect(mentionAt('@', 1)).toEqual({ start: 0, query: '' });
    expect(mentionAt('(@al', 4)).toEqual({ start: 1, query: 'al' });
    // the caret in the middle of the word: up to the caret
    expect(mentionAt('hi @bobby', 6)).toEqual({ start: 3, query: 'bo' });
  });

  it('is no mention in an e-mail address, after a space, or with no @', () => {
    expect(mentionAt('bob@example', 11)).toBeNull();
    expect(mentionAt('hello @bob now', 14)).toBeNull();
    expect(mentionAt('hello bob', 9)).toBeNull();
    expect(mentionAt('@@bob', 5)).toBeNull();
  });

  it('inserts the chosen username with a space after it', () => {
    const text = 'ask @bo about it';
    const q = mentionAt(text, 7)!;
    const result = insertMention(text, 7, q, 'bob');
    expect(result.text).toBe('ask @bob about it');
    expect(result.text.slice(result.caret)).toBe('about it');
    const end = insertMention('hi @c', 5, mentionAt('hi @c', 5)!, 'carol.cole');
    expect(end).toEqual({ text: 'hi @carol.cole ', caret: 15 });
    // the rest of the word the caret was inside is replaced too
    const inside = insertMention('hi @bobxx!', 6, mentionAt('hi @bobxx!', 6)!, 'bob');
    expect(inside.text).toBe('hi @bob !');
  });

  it('lists the usernames a body mentions, once each, trailing dots as punctuation', () => {
    expect(mentionsIn('@bob and @carol.cole, see @bob. Mail bob@example.org')).toEqual([
      'bob',
      'carol.cole'
    ]);
  });

  it('splits a body into text and mentions that rebuild it exactly', () => {
    const body = 'Hi @bob, and @alice.\nThanks x@y';
    const parts = splitMentions(body);
    expect(parts.map(p => p.text).join('')).toBe(body);
    expect(parts.filter(p => p.mention).map(p => p.mention)).toEqual(['bob', 'alice']);
  });
});
